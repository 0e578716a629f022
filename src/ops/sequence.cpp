// Fused sequence ops lstm(), gru(), simple_rnn(): the input projections a chunk of steps at a
// time (few large GEMMs), then one recurrent product and a fused update per step. Same contract
// as rnn(): masked samples keep their states and repeat the last emitted output (or zeros).
#include <algorithm>
#include <cstring>
#include <string>

#include "kernels/cell_steps.hpp"
#include "kernels/isa.hpp"
#include "kernels/threads.hpp"
#include "ops/cell_access.hpp"
#include "ops/masked_output.hpp"
#include "recur/ops.hpp"
#include "recur/threads.hpp"

namespace recur::ops {

namespace {

// The step kernels handle every activation, any mask (per-sample row selection), go_backwards,
// unroll and missing biases: every built-in cell has its fused op, and only malformed arguments
// are refused, by the checks below.
void check_sequence(const char* op, const GatedCell& cell, const Tensor& x,
                    std::span<const Tensor> init, const SequenceArgs& a) {
  if (x.rank() != 3 || x.dim(2) != cell.input_size()) {
    throw InvalidArgument(std::string(op) + ": inputs must have shape (batch, time, " +
                          std::to_string(cell.input_size()) + "), got " + x.shape_str());
  }
  if (x.dim(0) == 0) throw InvalidArgument(std::string(op) + ": inputs have an empty batch");
  if (x.dim(1) == 0) throw InvalidArgument(std::string(op) + ": inputs have no time steps");
  const auto sizes = cell.state_sizes();
  if (init.size() != sizes.size()) {
    throw InvalidArgument(std::string(op) + ": expected " + std::to_string(sizes.size()) +
                          " initial states, got " + std::to_string(init.size()));
  }
  for (size_t i = 0; i < init.size(); ++i) {
    if (init[i].shape() != std::vector<size_t>{x.dim(0), sizes[i]}) {
      throw InvalidArgument(std::string(op) + ": initial state " + std::to_string(i) +
                            " must have shape (" + std::to_string(x.dim(0)) + ", " +
                            std::to_string(sizes[i]) + "), got " + init[i].shape_str());
    }
  }
  if (a.mask && (a.mask->batch() != x.dim(0) || a.mask->time() != x.dim(1))) {
    throw InvalidArgument(std::string(op) + ": mask must have shape (" + std::to_string(x.dim(0)) +
                          ", " + std::to_string(x.dim(1)) + "), got (" +
                          std::to_string(a.mask->batch()) + ", " + std::to_string(a.mask->time()) +
                          ")");
  }
}

// Rows of a batch are independent, so a large batch can run in tiles of rows, each through the
// whole sequence. Tiles pay when a tile's input projection fits in cache (short sequences,
// large batches), and as the unit of parallel work: each thread runs its rows with no barrier
// per step and its own gate math. That wins when the call is worth a hand-off
// (kernels::kMinParallelFlops) and either the recurrent weights fit one core's L2 or each thread
// has enough rows for its per-step GEMM to stay compute-bound while the weights come from L3;
// otherwise (few rows, large weights) each step's GEMM is split by columns instead. Every row is
// computed exactly as in one call (the GEMMs' per-element order does not depend on the row
// count), so tiling changes no bit.
size_t tile_rows(size_t B, size_t T, size_t F, size_t u, size_t n, size_t weight_bytes) {
  constexpr size_t kCacheBytes = size_t{2} << 20, kMinRows = 32, kMaxRows = 512;
  size_t rows = B;
  const size_t fit = kCacheBytes / std::max<size_t>(T * n * sizeof(float), 1);
  if (fit >= kMinRows) rows = std::min(B, std::min(fit, kMaxRows));
  const size_t threads = static_cast<size_t>(kernels::num_threads());
  const size_t per_thread = (B + threads - 1) / threads;
  const double flops = 2.0 * double(B) * double(T) * double(n) * double(F + u);
  if (threads > 1 && flops >= kernels::kMinParallelFlops &&
      (weight_bytes <= kernels::l2_cache_bytes() || per_thread >= kMinRows)) {
    rows = std::min(rows, per_thread);
  }
  return std::max<size_t>(rows, 1);
}

// Steps whose input projections are computed together: at least ~96 rows per GEMM (each packed
// weight block is then reused across rows), while the chunk (rows x steps x n floats) stays
// about 1 MiB, in cache for the steps that read it and small enough that a call never touches
// (nor page-faults in) the whole sequence's projection.
size_t chunk_steps(size_t rows, size_t T, size_t n) {
  constexpr size_t kChunkBytes = size_t{1} << 20, kMinRows = 96;
  const size_t by_bytes = kChunkBytes / std::max<size_t>(rows * n * sizeof(float), 1);
  const size_t by_rows = (kMinRows + rows - 1) / rows;
  return std::clamp<size_t>(std::max(by_bytes, by_rows), 1, T);
}

// The input projections of one tile (`rows` rows from x, T steps; the columns of units `part`), a
// chunk of steps at a time in visit order, into xp laid out (rows, chunk, n), steps and rows
// padded_stride apart (size() floats in all). at(s) gives step s's rows (stride() apart). Each row
// is the same GEMM row as in one projection of the whole sequence, so chunking changes no bit.
class ChunkedProjection {
 public:
  ChunkedProjection(const kernels::PackedWeights& w, const float* x, size_t rows, size_t T,
                    size_t F, bool backwards, size_t chunk, float* xp, kernels::Units part)
      : w_(w),
        x_(x),
        rows_(rows),
        T_(T),
        F_(F),
        n_(w.gates * w.units),
        back_(backwards),
        chunk_(chunk),
        step_(kernels::padded_stride(n_)),
        xp_(xp),
        part_(part) {}

  // Floats from one row's chunk to the next; size(): the buffer of `rows` rows.
  static size_t row_stride(size_t chunk, size_t n) {
    return kernels::padded_stride(chunk * kernels::padded_stride(n));
  }
  static size_t size(size_t rows, size_t chunk, size_t n) { return rows * row_stride(chunk, n); }
  size_t stride() const { return row_stride(chunk_, n_); }

  float* at(size_t s) {
    if (s >= s1_ || s < s0_) project(s - s % chunk_);
    const size_t t = back_ ? T_ - 1 - s : s;
    return xp_ + (t - t0_) * step_;
  }

 private:
  void project(size_t s0) {
    s0_ = s0;
    s1_ = std::min(T_, s0 + chunk_);
    const size_t steps = s1_ - s0_;
    t0_ = back_ ? T_ - s1_ : s0_;
    if (rows_ >= steps) {  // one GEMM per step over the rows (x rows T*F apart)
      for (size_t j = 0; j < steps; ++j)
        kernels::input_projection(w_, rows_, x_ + (t0_ + j) * F_, T_ * F_, xp_ + j * step_,
                                  stride(), part_);
    } else {  // one GEMM per row over its steps
      for (size_t r = 0; r < rows_; ++r)
        kernels::input_projection(w_, steps, x_ + (r * T_ + t0_) * F_, F_, xp_ + r * stride(),
                                  step_, part_);
    }
  }

  const kernels::PackedWeights& w_;
  const float* x_;
  size_t rows_, T_, F_, n_;
  bool back_;
  size_t chunk_, step_;
  float* xp_;
  kernels::Units part_;
  size_t s0_ = 0, s1_ = 0, t0_ = 0;
};

// The input projections' buffer of the calling thread (ChunkedProjection sizes it: about 1 MiB, or
// a step of the largest tiles), grown once and kept. A buffer per call was allocated and zeroed on
// every call, and page-faulted in again whenever glibc gave the freed memory back (two parts'
// buffers freed at once): S2's bf16 LSTM run whole at 2 threads took 2.7 ms a call against 1.9
// at 1 (amx).
float* thread_projections(size_t floats) {
  thread_local std::vector<float, kernels::LineAllocator<float>> buffer;
  if (buffer.size() < floats) buffer.resize(floats);
  return buffer.data();
}

// Runs run_tile(tile, work, part, sync) over the tiles, each worker its share of them. With one
// tile and several threads (kernels::unit_parts), each step's units are split across threads
// instead: each thread computes its units' columns of the GEMMs (the recurrent weights are read
// once per step in all) and their gate math, and the threads meet once per step at a spin
// barrier, since every unit's next state reads all of h (once more with a mask, and in a GRU
// reset_after=False step for r * h).
template <class RunTile, class Work>
void run_tiles(RunTile& run_tile, std::vector<Work>& work, size_t tiles, size_t workers,
               size_t parts, size_t rows, const kernels::PackedWeights& w, size_t T) {
  struct Ctx {
    RunTile* run;
    std::vector<Work>* work;
    size_t tiles, workers;
  };
  if (parts > 1) {
    kernels::run_unit_parts(parts, rows, w, T,
                            [&](size_t i, kernels::Units part, kernels::SpinBarrier* sync) {
                              if (sync) {
                                run_tile(0, work[i], part, sync);
                                return;
                              }
                              // Not split (it did not pay): one thread, its projections too, so
                              // that the split is measured against one thread's time.
                              const ThreadsScope one(1);
                              run_tile(0, work[i], part, nullptr);
                            });
  } else if (workers == 1) {
    for (size_t tile = 0; tile < tiles; ++tile) run_tile(tile, work[0], {}, nullptr);
  } else {
    Ctx ctx{&run_tile, &work, tiles, workers};
    kernels::parallel_for(
        static_cast<int>(workers),
        [](void* p, int i) {
          auto* c = static_cast<Ctx*>(p);
          for (size_t tile = static_cast<size_t>(i); tile < c->tiles; tile += c->workers)
            (*c->run)(tile, (*c->work)[i], {}, nullptr);
        },
        &ctx);
  }
}

// A step's inputs: its input projections (xp, rows `stride` apart); or, with x set, x's rows (ldx
// apart), whose projections the step sums into xp itself with its recurrent product.
struct StepIn {
  float* xp = nullptr;
  size_t stride = 0;
  const float* x = nullptr;
  size_t ldx = 0;
};

// Runs the time loop around `advance(rows, part, sync, in, states, next, scratch, out)`, which
// computes the next states of `rows` rows (units `part`; sync: the parts' barrier, or nullptr)
// from the step's inputs `in` and copies each row's h into `out` (when it has a destination);
// nstates is 1 (h) or 2 (h, c); h is the output. splittable: advance can take a part of the units.
// sums_x: advance takes x's rows (StepIn::x), used where the projections would run a step at a
// time anyway (ChunkedProjection's one GEMM per step).
template <class Advance>
RnnResult run_sequence(const GatedCell& cell, const Tensor& x, std::span<const Tensor> init,
                       const SequenceArgs& a, size_t nstates, bool splittable, bool sums_x,
                       Advance advance) {
  const size_t B = x.dim(0), T = x.dim(1), F = x.dim(2), u = cell.units();
  const size_t n = cell.gates() * u;
  const kernels::PackedWeights& w = detail::CellAccess::packed(cell);

  RnnResult res;
  for (size_t i = 0; i < nstates; ++i) res.states.push_back(init[i]);
  Tensor emitted({B, u});
  if (a.initial_output) {
    if (a.initial_output->shape() != emitted.shape()) {
      throw InvalidArgument("initial_output must have shape " + emitted.shape_str() + ", got " +
                            a.initial_output->shape_str());
    }
    emitted = *a.initial_output;
  }
  const size_t steps_out = a.return_sequences ? T : 1;
  res.outputs = Tensor::for_overwrite({B, steps_out, u});  // run_tile writes every row and step

  const size_t TB = tile_rows(B, T, F, u, n, w.recurrent.bytes() + w.recurrent_h.bytes()),
               tiles = (B + TB - 1) / TB;
  const size_t parts = tiles == 1 ? kernels::unit_parts(TB, T, u, cell.gates(), splittable) : 1;
  const size_t chunk = chunk_steps(TB, T, n);
  struct Work {  // on whole cache lines: GEMM tile rows across two lines cost up to 30 %
    std::vector<float, kernels::LineAllocator<float>> scratch, next;
  };
  const size_t workers =
      tiles > 1 ? std::min<size_t>(static_cast<size_t>(kernels::num_threads()), tiles) : parts;
  std::vector<Work> work(workers);
  for (auto& wk : work) wk.scratch.resize(kernels::step_scratch_size(w, TB));
  for (size_t i = 0; i < (parts > 1 ? 1 : workers); ++i) work[i].next.resize(nstates * TB * u);

  // sync: the barrier of a split step (nullptr: all units, no split); the parts share the next
  // states and the scratch of work[0].
  auto run_tile = [&](size_t tile, Work& wk, kernels::Units part, kernels::SpinBarrier* sync) {
    const kernels::KeepTiles keep;  // the same tile configuration for every step's products
    const size_t b0 = tile * TB, rows = std::min(TB, B - b0);
    const size_t u0 = part.begin, bytes = (std::min(part.end, u) - u0) * sizeof(float);
    float* projections = thread_projections(ChunkedProjection::size(TB, chunk, n));
    // Where the steps take x's rows, xp.at() is never called, so it never projects.
    const bool x_rows = sums_x && rows >= chunk;
    ChunkedProjection xp(w, x.data() + b0 * T * F, rows, T, F, a.go_backwards, chunk, projections,
                         part);
    float* st[2] = {res.states[0].data() + b0 * u,
                    nstates > 1 ? res.states[1].data() + b0 * u : nullptr};
    float* next = (sync ? work[0] : wk).next.data();
    float* scratch = (sync ? work[0] : wk).scratch.data();
    float* nx[2] = {next, next + TB * u};
    auto step = [&](size_t s, float* const* cur, float* const* nxt, kernels::RowsOut out) {
      StepIn in;
      if (x_rows) {
        const size_t t = a.go_backwards ? T - 1 - s : s;
        in = {projections, kernels::padded_stride(n), x.data() + (b0 * T + t) * F, T * F};
      } else {
        in = {xp.at(s), xp.stride()};
      }
      advance(rows, part, sync, in, cur, nxt, scratch, out);
      if (sync) sync->wait();
    };
    // Row r's units of this part in a (rows, u) buffer.
    auto at = [&](float* p, size_t r) { return p + r * u + u0; };
    if (!a.mask) {  // every step is taken: swap the state buffers instead of copying rows
      float* cur[2] = {st[0], st[1]};
      float* nxt[2] = {nx[0], nx[1]};
      for (size_t s = 0; s < T; ++s) {
        // The step writes each row's output as it computes the row.
        kernels::RowsOut out;
        if (a.return_sequences) out = {res.outputs.data() + (b0 * T + s) * u, T * u};
        step(s, cur, nxt, out);
        for (size_t i = 0; i < nstates; ++i) std::swap(cur[i], nxt[i]);
      }
      for (size_t r = 0; r < rows; ++r) {
        for (size_t i = 0; i < nstates; ++i) {
          if (cur[i] != st[i]) std::memcpy(at(st[i], r), at(cur[i], r), bytes);
        }
        std::memcpy(at(emitted.data(), b0 + r), at(st[0], r), bytes);
        if (!a.return_sequences) std::memcpy(at(res.outputs.data(), b0 + r), at(st[0], r), bytes);
      }
      return;
    }
    const MaskedOutput mo =
        masked_output(a.zero_output_for_mask, a.unroll, a.go_backwards, a.return_sequences);
    for (size_t s = 0; s < T; ++s) {
      const size_t t = a.go_backwards ? T - 1 - s : s;
      step(s, st, nx, {});
      for (size_t r = 0; r < rows; ++r) {
        const size_t b = b0 + r;
        float* e = at(emitted.data(), b);
        if ((*a.mask)(b, t)) {
          for (size_t i = 0; i < nstates; ++i) std::memcpy(at(st[i], r), at(nx[i], r), bytes);
          std::memcpy(e, at(nx[0], r), bytes);
        } else if (mo.zero_in_loop) {
          std::memset(e, 0, bytes);
        }
        if (a.return_sequences || s + 1 == T) {
          const size_t k = a.return_sequences ? s : 0;
          float* o = at(res.outputs.data(), b * steps_out + k);
          if (mo.zero_after && !(*a.mask)(b, s)) {
            std::memset(o, 0, bytes);
          } else {
            std::memcpy(o, e, bytes);
          }
        }
        if (mo.zero_after && s + 1 == T && !(*a.mask)(b, t)) std::memset(e, 0, bytes);
      }
      if (sync) sync->wait();  // the next step reads every part's states
    }
  };

  run_tiles(run_tile, work, tiles, workers, parts, TB, w, T);
  res.last_output = std::move(emitted);
  return res;
}

}  // namespace

RnnResult lstm(const LSTMCell& cell, const Tensor& inputs, std::span<const Tensor> init,
               const SequenceArgs& a) {
  check_sequence("lstm", cell, inputs, init, a);
  const auto& cfg = cell.config();
  const kernels::PackedWeights& w = detail::CellAccess::packed(cell);
  return run_sequence(
      cell, inputs, init, a, 2, kernels::splittable(cfg.activation, cfg.recurrent_activation),
      kernels::sums_input_product(w),
      [&](size_t rows, kernels::Units part, kernels::SpinBarrier*, StepIn in, float* const* st,
          float* const* nx, float* scratch, kernels::RowsOut out) {
        if (in.x) {
          kernels::lstm_step_x(w, cfg.activation, cfg.recurrent_activation, rows, in.x, in.ldx,
                               in.xp, in.stride, st[0], st[1], nx[0], nx[1], part, out);
        } else {
          kernels::lstm_step(w, cfg.activation, cfg.recurrent_activation, rows, in.xp, in.stride,
                             st[0], st[1], nx[0], nx[1], scratch, part, out);
        }
      });
}

RnnResult gru(const GRUCell& cell, const Tensor& inputs, std::span<const Tensor> init,
              const SequenceArgs& a) {
  check_sequence("gru", cell, inputs, init, a);
  const auto& cfg = cell.config();
  return run_sequence(
      cell, inputs, init, a, 1, kernels::splittable(cfg.activation, cfg.recurrent_activation),
      false,
      [&](size_t rows, kernels::Units part, kernels::SpinBarrier* sync, StepIn in, float* const* st,
          float* const* nx, float* scratch, kernels::RowsOut out) {
        kernels::gru_step(detail::CellAccess::packed(cell), cfg.reset_after, cfg.activation,
                          cfg.recurrent_activation, rows, in.xp, in.stride, st[0], nx[0], scratch,
                          part, sync, out);
      });
}

RnnResult simple_rnn(const SimpleRNNCell& cell, const Tensor& inputs, std::span<const Tensor> init,
                     const SequenceArgs& a) {
  check_sequence("simple_rnn", cell, inputs, init, a);
  const auto& cfg = cell.config();
  const kernels::PackedWeights& w = detail::CellAccess::packed(cell);
  return run_sequence(
      cell, inputs, init, a, 1, kernels::splittable(cfg.activation, cfg.activation),
      kernels::sums_input_product(w),
      [&](size_t rows, kernels::Units part, kernels::SpinBarrier*, StepIn in, float* const* st,
          float* const* nx, float* scratch, kernels::RowsOut out) {
        if (in.x) {
          kernels::simple_rnn_step_x(w, cfg.activation, rows, in.x, in.ldx, st[0], nx[0], part,
                                     out);
        } else {
          kernels::simple_rnn_step(w, cfg.activation, rows, in.xp, in.stride, st[0], nx[0], scratch,
                                   part, out);
        }
      });
}

}  // namespace recur::ops
