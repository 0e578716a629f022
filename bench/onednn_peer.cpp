// oneDNN 2.6 RNN primitives (lstm_forward, gru_forward, lbr_gru_forward, vanilla_rnn_forward).
// Keras' kernel (I, G*H) and recurrent kernel (H, G*H) are oneDNN's ldigo with the same gate
// order (LSTM [i, f, c, o], GRU [u=z, r, o=h]); lbr_gru's 4-gate bias is OpenVINO's
// (layout::to_openvino). Weights are reordered once into the primitive's preferred format.
#include "peer.hpp"

#ifdef RECUR_BENCH_ONEDNN
#include <omp.h>

#include <chrono>
#include <cstring>
#include <oneapi/dnnl/dnnl.hpp>
#include <unordered_map>

namespace recur::bench {

namespace {
using namespace dnnl;
using dt = memory::data_type;
using tag = memory::format_tag;

class OneDnn final : public Engine {
 public:
  OneDnn(const Case& c, int threads) : c_(c), eng_(engine::kind::cpu, 0), s_(eng_) {
    omp_set_num_threads(threads);
    const memory::dim B = c.B, I = c.I, H = c.H, G = c.G;
    const memory::dim T = c.stream ? 1 : c.T;
    const bool lbr = c.kind == layout::CellKind::gru;
    auto src_md = memory::desc({T, B, I}, dt::f32, tag::ntc);
    auto dst_md = memory::desc({T, B, H}, dt::f32, tag::ntc);
    auto st_md = memory::desc({1, 1, B, H}, dt::f32, tag::ldnc);
    auto wl_any = memory::desc({1, 1, I, G, H}, dt::f32, tag::any);
    auto wi_any = memory::desc({1, 1, H, G, H}, dt::f32, tag::any);
    auto bias_md = memory::desc({1, 1, lbr ? 4 : G, H}, dt::f32, tag::ldgo);
    auto iter_md = c.stream ? st_md : memory::desc();
    const auto dir = rnn_direction::unidirectional_left2right;
    const auto fwd = prop_kind::forward_inference;
    memory::desc wl_md, wi_md;
    switch (c.kind) {
      case layout::CellKind::lstm: {
        lstm_forward::primitive_desc pd(
            lstm_forward::desc(fwd, dir, src_md, iter_md, iter_md, wl_any, wi_any, bias_md, dst_md,
                               iter_md, iter_md),
            eng_);
        wl_md = pd.weights_layer_desc();
        wi_md = pd.weights_iter_desc();
        prim_ = lstm_forward(pd);
        break;
      }
      case layout::CellKind::gru: {
        lbr_gru_forward::primitive_desc pd(lbr_gru_forward::desc(fwd, dir, src_md, iter_md, wl_any,
                                                                 wi_any, bias_md, dst_md, iter_md),
                                           eng_);
        wl_md = pd.weights_layer_desc();
        wi_md = pd.weights_iter_desc();
        prim_ = lbr_gru_forward(pd);
        break;
      }
      case layout::CellKind::gru_reset_before: {
        gru_forward::primitive_desc pd(
            gru_forward::desc(fwd, dir, src_md, iter_md, wl_any, wi_any, bias_md, dst_md, iter_md),
            eng_);
        wl_md = pd.weights_layer_desc();
        wi_md = pd.weights_iter_desc();
        prim_ = gru_forward(pd);
        break;
      }
      case layout::CellKind::simple_rnn: {
        vanilla_rnn_forward::primitive_desc pd(
            vanilla_rnn_forward::desc(fwd, algorithm::eltwise_tanh, dir, src_md, iter_md, wl_any,
                                      wi_any, bias_md, dst_md, iter_md),
            eng_);
        wl_md = pd.weights_layer_desc();
        wi_md = pd.weights_iter_desc();
        prim_ = vanilla_rnn_forward(pd);
        break;
      }
    }
    // Weights: user ldigo memory -> the primitive's format.
    auto user_wl =
        memory({{1, 1, I, G, H}, dt::f32, tag::ldigo}, eng_, const_cast<float*>(c.w.kernel.data()));
    auto user_wi = memory({{1, 1, H, G, H}, dt::f32, tag::ldigo}, eng_,
                          const_cast<float*>(c.w.recurrent_kernel.data()));
    wl_ = memory(wl_md, eng_);
    wi_ = memory(wi_md, eng_);
    reorder(user_wl, wl_).execute(s_, user_wl, wl_);
    reorder(user_wi, wi_).execute(s_, user_wi, wi_);
    bias_ = memory(bias_md, eng_);
    float* bp = static_cast<float*>(bias_.get_data_handle());
    const size_t nb = (lbr ? 4 : G) * H;
    std::memset(bp, 0, nb * sizeof(float));
    if (c.w.bias) {
      if (lbr) {
        const Tensor b = layout::to_openvino(c.kind, c.w).B;
        std::memcpy(bp, b.data(), nb * sizeof(float));
      } else {
        std::memcpy(bp, c.w.bias->data(), nb * sizeof(float));
      }
    }
    src_ = memory(src_md, eng_);
    dst_ = memory(dst_md, eng_);
    if (!c.stream) {
      std::memcpy(src_.get_data_handle(), c.x.data(), c.x.size() * sizeof(float));
    } else {
      for (int k = 0; k < 2; ++k) {
        h_[k] = memory(st_md, eng_);
        cst_[k] = memory(st_md, eng_);
        std::memset(h_[k].get_data_handle(), 0, c.H * sizeof(float));
        std::memset(cst_[k].get_data_handle(), 0, c.H * sizeof(float));
      }
    }
    s_.wait();
  }

  std::unordered_map<int, memory> args(int from) {
    std::unordered_map<int, memory> a = {{DNNL_ARG_SRC_LAYER, src_},
                                         {DNNL_ARG_WEIGHTS_LAYER, wl_},
                                         {DNNL_ARG_WEIGHTS_ITER, wi_},
                                         {DNNL_ARG_BIAS, bias_},
                                         {DNNL_ARG_DST_LAYER, dst_}};
    if (c_.stream) {
      a[DNNL_ARG_SRC_ITER] = h_[from];
      a[DNNL_ARG_DST_ITER] = h_[1 - from];
      if (c_.kind == layout::CellKind::lstm) {
        a[DNNL_ARG_SRC_ITER_C] = cst_[from];
        a[DNNL_ARG_DST_ITER_C] = cst_[1 - from];
      }
    }
    return a;
  }

  Tensor outputs(size_t steps) override {
    if (!c_.stream) {
      prim_.execute(s_, args(0));
      s_.wait();
      Tensor y({c_.B, c_.T, c_.H});
      std::memcpy(y.data(), dst_.get_data_handle(), y.size() * sizeof(float));
      return y;
    }
    Tensor y({1, steps, c_.H});
    for (int k = 0; k < 2; ++k) {
      std::memset(h_[k].get_data_handle(), 0, c_.H * sizeof(float));
      std::memset(cst_[k].get_data_handle(), 0, c_.H * sizeof(float));
    }
    for (size_t t = 0; t < steps; ++t) {
      std::memcpy(src_.get_data_handle(), c_.x.data() + t * c_.I, c_.I * sizeof(float));
      prim_.execute(s_, args(cur_));
      s_.wait();
      cur_ = 1 - cur_;
      std::memcpy(y.data() + t * c_.H, dst_.get_data_handle(), c_.H * sizeof(float));
    }
    return y;
  }

  void call() override {
    if (!c_.stream) {
      prim_.execute(s_, seq_args_);
    } else {
      prim_.execute(s_, step_args_[cur_]);
      cur_ = 1 - cur_;
    }
    s_.wait();
  }

  void freeze() {
    if (c_.stream) {
      step_args_[0] = args(0);
      step_args_[1] = args(1);
    } else {
      seq_args_ = args(0);
    }
  }

 private:
  const Case& c_;
  engine eng_;
  stream s_;
  primitive prim_;
  memory wl_, wi_, bias_, src_, dst_, h_[2], cst_[2];
  std::unordered_map<int, memory> seq_args_, step_args_[2];
  int cur_ = 0;
};
}  // namespace

bool onednn_available() { return true; }

std::unique_ptr<Engine> make_onednn(const Case& c, int threads) {
  auto e = std::make_unique<OneDnn>(c, threads);
  e->freeze();
  return e;
}

double onednn_sgemm_gflops(int threads, double budget) {
  omp_set_num_threads(threads);
  const dnnl_dim_t n = 1024;
  std::vector<float> a(n * n, 0.5f), b(n * n, 0.25f), cm(n * n);
  auto once = [&] {
    dnnl_sgemm('N', 'N', n, n, n, 1.0f, a.data(), n, b.data(), n, 0.0f, cm.data(), n);
  };
  once();
  double best = 0;
  const auto t_end = std::chrono::steady_clock::now() + std::chrono::duration<double>(budget);
  do {
    const auto t0 = std::chrono::steady_clock::now();
    once();
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    best = std::max(best, 2.0 * n * n * n / s / 1e9);
  } while (std::chrono::steady_clock::now() < t_end);
  return best;
}

}  // namespace recur::bench

#else

namespace recur::bench {
bool onednn_available() { return false; }
std::unique_ptr<Engine> make_onednn(const Case&, int) { return nullptr; }
double onednn_sgemm_gflops(int, double) { return 0; }
}  // namespace recur::bench

#endif
