// bf16 GEMM probe (not part of the build; docs/PERFORMANCE.md, "session 23"): recur's packed
// bf16 GEMM (the amx table's tiles with RECUR_ISA=amx) against oneDNN's bf16 matmul
// (brg:avx512_core_amx_bf16 where AMX is present) on the M x K x N given, one thread (or
// RECUR_NUM_THREADS for recur, OMP_NUM_THREADS for oneDNN):
//   g++ -O3 -std=c++20 -Iinclude -Isrc bench/amx_gemm_probe.cpp build/librecur.a -ldnnl
//       -lpthread -o amx_gemm_probe   (one line)
//   RECUR_ISA=amx OMP_NUM_THREADS=1 taskset -c 1 ./amx_gemm_probe 128 512 2048 6400 512 2048
// recur: A fp32 (rounded by the kernel), C accumulated, C rows padded by one line and on lines
// (as the fused sequence ops lay them out). oneDNN: A bf16, weights in its own layout, C written.
// Every operand is written before timing: pages never written all map to one zero page, which
// stays in L1 (session 22's oneDNN numbers came from such operands and were 2.5x too fast).
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <vector>

#include "kernels/gemm.hpp"
#include "kernels/threads.hpp"
#include "oneapi/dnnl/dnnl.hpp"
#include "probe_timing.hpp"

namespace {

void fill_bf16(dnnl::memory& m, uint16_t base) {
  auto* p = static_cast<uint16_t*>(m.get_data_handle());
  const size_t n = m.get_desc().get_size() / 2;
  for (size_t i = 0; i < n; ++i) p[i] = static_cast<uint16_t>(base + (i * 7) % 13);
}

}  // namespace

int main(int argc, char** argv) {
  using namespace dnnl;
  if (std::getenv("RECUR_NUM_THREADS") == nullptr) recur::kernels::set_num_threads(1);
  engine eng(engine::kind::cpu, 0);
  stream strm(eng);
  std::mt19937 rng(1);
  std::uniform_real_distribution<float> dist(-1, 1);
  for (int i = 1; i + 2 < argc; i += 3) {
    const size_t M = std::strtoul(argv[i], nullptr, 10), K = std::strtoul(argv[i + 1], nullptr, 10),
                 N = std::strtoul(argv[i + 2], nullptr, 10);
    const double flop = 2.0 * M * K * N;

    const size_t ldc = N + 16;
    std::vector<float> A(M * K), B(K * N), Cv(M * ldc + 16);
    for (auto& v : A) v = dist(rng);
    for (auto& v : B) v = dist(rng);
    float* C = reinterpret_cast<float*>((reinterpret_cast<uintptr_t>(Cv.data()) + 63) / 64 * 64);
    const auto P = recur::kernels::pack_matrix(K, N, B.data(), N, 0, recur::Precision::bf16);
    const double t_recur =
        best_time([&] { recur::kernels::gemm_packed(M, A.data(), K, P, C, ldc, true, nullptr); });

    const auto dims = [](size_t r, size_t c) {
      return memory::dims{static_cast<memory::dim>(r), static_cast<memory::dim>(c)};
    };
    const memory::desc a_md(dims(M, K), memory::data_type::bf16, memory::format_tag::ab);
    const memory::desc b_md(dims(K, N), memory::data_type::bf16, memory::format_tag::any);
    const memory::desc c_md(dims(M, N), memory::data_type::f32, memory::format_tag::ab);
    const matmul::primitive_desc pd(matmul::desc(a_md, b_md, c_md), eng);
    memory mA(a_md, eng), mB(pd.weights_desc(), eng), mC(c_md, eng);
    fill_bf16(mA, 0x3f00);
    fill_bf16(mB, 0x3c00);
    std::fill_n(static_cast<float*>(mC.get_data_handle()), M * N, 0.0f);
    const matmul mm(pd);
    const double t_dnnl = best_time([&] {
      mm.execute(strm, {{DNNL_ARG_SRC, mA}, {DNNL_ARG_WEIGHTS, mB}, {DNNL_ARG_DST, mC}});
      strm.wait();
    });
    std::printf("%zu x %zu x %zu: recur %.1f us (%.0f GFLOP/s), oneDNN %s %.1f us (%.0f GFLOP/s)\n",
                M, K, N, t_recur * 1e6, flop / t_recur * 1e-9, pd.impl_info_str(), t_dnnl * 1e6,
                flop / t_dnnl * 1e-9);
  }
}
