// Einstein summation as numpy and TensorFlow define it (ops.einsum, tf.einsum, EinsumDense).
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "recur/tensor.hpp"

namespace recur::ops {

// A parsed equation: one term per operand and the output, each a list of labels; the label
// `ellipsis` stands for the broadcast dimensions of "...".
struct EinsumSpec {
  static constexpr char ellipsis = '.';
  std::vector<std::string> inputs;
  std::string output;
};

// Parses "ij,jk->ik" (spaces ignored). Without "->" the output is the ellipsis, then the labels
// used once, in alphabetical order; refused where Keras' TensorFlow backend, which renames the
// labels in order of first use, would order them differently. InvalidArgument (naming `where`)
// for a malformed equation or one that does not have `operands` terms.
EinsumSpec parse_einsum(const std::string& equation, size_t operands, const std::string& where);

// Whether row b of the output reads only row b of each operand flagged in `batched`: their
// first axes all land on the output's first axis, which no other operand has (`ranks` resolve
// each "...").
bool einsum_keeps_batch(const EinsumSpec& spec, const std::vector<size_t>& ranks,
                        const std::vector<bool>& batched);

// The most products one einsum call may take (about ten seconds of the loop): beyond it an
// equation, hostile or not, is refused rather than left running.
inline constexpr double kEinsumMaxProducts = 1e10;

// The sum over the labels absent from the output of the products of the operands' elements,
// in double with one rounding to float32 (TensorFlow's float32 GEMM differs by its rounding).
// Labels must have equal sizes; "..." dimensions broadcast as numpy's. The output may hold
// at most max_elems elements and the sum take at most max_terms products (InvalidArgument).
Tensor einsum(const EinsumSpec& spec, const std::vector<const Tensor*>& operands, size_t max_elems,
              double max_terms, const std::string& where);

}  // namespace recur::ops
