// Config fields shared by the convolution and pooling layers, read with errors naming the field.
#pragma once

#include <cstddef>
#include <vector>

#include "layers/layer.hpp"

namespace recur::layers {

// Convolution options shared by Conv and ConvLSTM layers: one entry per spatial axis (a single
// int is broadcast), each in [1, 4096]; InvalidArgument naming the field otherwise.
std::vector<size_t> conv_sizes(const LayerArgs& a, const char* field, size_t rank, long fallback,
                               bool required = false);
// 'valid' or 'same' (Keras lowercases); anything else is refused naming the field.
bool conv_same_padding(const LayerArgs& a);
// data_format: channels_last (also null) or channels_first.
bool conv_channels_first(const LayerArgs& a);

}  // namespace recur::layers
