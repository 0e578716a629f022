// What the loops emit at a masked step (spec §3.4), and the one place where Keras' TensorFlow
// backend departs from it: its unrolled loop (unroll=True) applies zero_output_for_mask after the
// loop, indexing the outputs, kept in processing order, with the mask in time order
// (keras/src/backend/tensorflow/rnn.py, unrolled branch; Keras 2 and torch do the same). Going
// forward that is the rolled result; with go_backwards, step s's output is zeroed when time s
// (not T-1-s) is masked, and a masked step keeps the carried output instead. recur follows it:
// the model was trained on those outputs.
#pragma once

namespace recur::ops {

struct MaskedOutput {
  bool zero_in_loop = false;  // a masked step emits zeros (zero_output_for_mask)
  bool zero_after = false;    // outputs[s] zeroed where time s is masked (TF's unrolled loop)
};

inline MaskedOutput masked_output(bool zero_output_for_mask, bool unroll, bool go_backwards,
                                  bool all_outputs) {
  const bool after = zero_output_for_mask && unroll && go_backwards && all_outputs;
  return {zero_output_for_mask && !after, after};
}

}  // namespace recur::ops
