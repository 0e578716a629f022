// One time step of the built-in cells on raw buffers, shared by the cells' step() (the loop)
// and the fused sequence ops, so both compute the same bits.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "kernels/gemm.hpp"
#include "kernels/split_choice.hpp"
#include "kernels/threads.hpp"
#include "recur/activations.hpp"

namespace recur::kernels {

// Weights packed once (at cell construction) into the panels the GEMM kernels read. Gate
// blocks keep Keras order.
struct PackedWeights {
  size_t input = 0, units = 0, gates = 0;
  Precision precision = Precision::fp32;  // of kernel, recurrent and recurrent_h
  PackedMatrix kernel;                    // (input, gates*units)
  PackedMatrix recurrent;             // (units, gates*units); GRU reset_after=False: [z, r] only
  PackedMatrix recurrent_h;           // GRU reset_after=False: (units, units), the h block
  std::vector<float> input_bias;      // (gates*units) or empty
  std::vector<float> recurrent_bias;  // (gates*units) or empty (GRU reset_after only)
};

// Packs Keras' kernel (input, G*u) and recurrent_kernel (u, G*u); split_h: GRU
// reset_after=False (the h block of the recurrent kernel multiplies r*h, not h). The matrices
// take w.precision; the biases stay float32.
void pack_weights(PackedWeights& w, const float* kernel, const float* recurrent, bool split_h);

// The units [begin, end) of a layer: one thread's share when the units of a step are split
// across threads. The steps below then read all of h but compute, and write, only their units'
// columns and states, with the same bits as the whole step gives them. A share other than all
// units is one of unit_part's (each gate's columns whole panels).
struct Units {
  size_t begin = 0, end = SIZE_MAX;
};
// Whether a step can take a part of the units: element-wise activations.
bool splittable(Activation act, Activation rec);
// Threads that split the units of T steps of B rows, u units and G gates, in one call (1: no
// split): when splittable, several threads are set, u is whole panels of at least two, and the
// recurrent GEMMs are worth the hand-offs: a spin barrier per step, and the call's hand-off to
// the pool.
size_t unit_parts(size_t B, size_t T, size_t u, size_t G, bool splittable);
// Part i of `parts`: whole panels of each gate's columns.
Units unit_part(size_t u, size_t parts, size_t i);

// fn(i, part i, sync) for the `parts` parts of w's units (unit_parts), on that many threads at
// once, sync their barrier; or fn(0, all units, nullptr) on this thread when there is one part,
// when the split has not paid for this work shape (split_choice.hpp: `rows` rows of w's
// weights, `steps` steps in the call) or the pool cannot give a team.
template <class Fn>
void run_unit_parts(size_t parts, size_t rows, const PackedWeights& w, size_t steps, Fn&& fn) {
  if (parts < 2) {
    fn(size_t{0}, Units{}, nullptr);
    return;
  }
  const size_t u = w.units;
  const SplitCall call(
      {rows, u, w.gates, parts, steps == 1, w.input, w.precision, w.recurrent_h.K > 0}, steps);
  if (call.split()) {
    SpinBarrier sync(static_cast<int>(parts));
    struct Ctx {
      Fn* fn;
      size_t u, parts;
      SpinBarrier* sync;
    } ctx{&fn, u, parts, &sync};
    const auto run = [](void* p, int i) {
      auto* c = static_cast<Ctx*>(p);
      const size_t k = static_cast<size_t>(i);
      (*c->fn)(k, unit_part(c->u, c->parts, k), c->sync);
    };
    if (parallel_team(static_cast<int>(parts), run, &ctx)) {
      call.done(true);
      return;
    }
  }
  fn(size_t{0}, Units{}, nullptr);
  call.done(false);
}

// xp (rows, G*u) = x (rows, input) @ kernel + input_bias; the second form with row strides
// (and only `part`'s columns of each gate).
void input_projection(const PackedWeights& w, size_t rows, const float* x, float* xp);
void input_projection(const PackedWeights& w, size_t rows, const float* x, size_t ldx, float* xp,
                      size_t ldxp, Units part = {});

// Scratch floats the step functions below need for B rows.
size_t step_scratch_size(const PackedWeights& w, size_t B);

// Where a step also copies each row of h_new (its part's units), right after computing the row,
// while it is in L1: row b at data + b * ld (a sequence's outputs at this step). As a pass over
// h_new after the step, that copy cost the S3 and S4 bf16 steps 2-7 % more (amx, one thread).
struct RowsOut {
  float* data = nullptr;
  size_t ld = 0;
};

// In each step: xp row b is at xp + b * xp_stride (the input projection of this step),
// h/c are the current states (B, u), h_new/c_new receive the next ones (B, u). lstm_step
// accumulates h @ recurrent onto xp in place (xp + h @ recurrent, the loop's order); xp's
// contents after the step are scratch.
// A `part` of the units needs splittable(...).
void simple_rnn_step(const PackedWeights& w, Activation act, size_t B, const float* xp,
                     size_t xp_stride, const float* h, float* h_new, float* scratch,
                     Units part = {}, RowsOut out = {});
void lstm_step(const PackedWeights& w, Activation act, Activation rec, size_t B, float* xp,
               size_t xp_stride, const float* h, const float* c, float* h_new, float* c_new,
               float* scratch, Units part = {}, RowsOut out = {});
// The steps from x's rows (ldx apart) rather than their projection: x @ kernel + input_bias +
// h @ recurrent, the two products summed a panel pair at a time where the kernel table can
// (sums_input_product: gemm_packed_sum), into xp (B rows xp_stride apart; LSTM) or h_new
// (SimpleRNN). The bits of input_projection then the step.
void lstm_step_x(const PackedWeights& w, Activation act, Activation rec, size_t B, const float* x,
                 size_t ldx, float* xp, size_t xp_stride, const float* h, const float* c,
                 float* h_new, float* c_new, Units part = {}, RowsOut out = {});
void simple_rnn_step_x(const PackedWeights& w, Activation act, size_t B, const float* x, size_t ldx,
                       const float* h, float* h_new, Units part = {}, RowsOut out = {});
bool sums_input_product(const PackedWeights& w);
// The LSTM update from preactivations pre (rows, 4u; rows ld apart), gates [i, f, c, o]
// (left as scratch): c_new = f*c + i*act(c~), h_new = o*act(c_new); for sigmoid and tanh the
// table's lstm_row (two passes per row). lstm_step ends with it; ConvLSTM uses it alone.
void lstm_gates(Activation act, Activation rec, size_t rows, size_t u, float* pre, size_t ld,
                const float* c, float* h_new, float* c_new, Units part = {}, RowsOut out = {});
// lstm_gates for many rows of few units (ConvLSTM cells): each activation runs once over all
// rows when both are element-wise (else it is lstm_gates). Element-wise functions give each
// element the same bits either way.
void lstm_gates_rows(Activation act, Activation rec, size_t rows, size_t u, float* pre,
                     const float* c, float* h_new, float* c_new);
// reset_after=False multiplies r * h of all units by the candidate's weights: the parts of one
// step share `scratch` and wait at `sync` for each other's r * h.
void gru_step(const PackedWeights& w, bool reset_after, Activation act, Activation rec, size_t B,
              const float* xp, size_t xp_stride, const float* h, float* h_new, float* scratch,
              Units part = {}, SpinBarrier* sync = nullptr, RowsOut out = {});

}  // namespace recur::kernels
