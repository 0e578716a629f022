// Shared pieces of the 2D/3D spatial layers (pooling, padding, cropping, upsampling): config
// tuples with bounds, and the move between channels_first and channels_last layouts. The
// layers compute on channels_last (batch, d1..dN, channels).
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "layers/core_util.hpp"

namespace recur::layers::spatial {

void register_spatial_shape_layers(std::map<std::string, LayerKind>& r);

// Sizes above this are refused as absurd (no real model has them); it keeps window arithmetic
// far from overflow.
constexpr long kMaxSize = long{1} << 31;

// N integers from an int or a list of N (Keras' normalize_tuple), each in [lo, kMaxSize].
std::vector<size_t> cfg_tuple(const LayerArgs& a, const char* field, size_t n, long fallback,
                              long lo);

// data_format: "channels_last" (default) or "channels_first"; anything else InvalidArgument.
bool channels_first(const LayerArgs& a);

// (B, C, d1..dN) -> (B, d1..dN, C) and back.
Tensor to_channels_last(const Tensor& x);
Tensor to_channels_first(const Tensor& x);

// Elements of a shape, saturating at UINT64_MAX (for the activation budget).
uint64_t elements(const std::vector<size_t>& shape);

}  // namespace recur::layers::spatial
