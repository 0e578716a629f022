// What docs/LAYERS.md says about each registered class, attached where the class is
// registered (r["Dense"] = {make, count, docs::dense}). Regenerate the page after editing:
//   ./build/recur-layers-doc > docs/LAYERS.md
#pragma once

#include <string>

#include "layers/layer.hpp"

namespace recur::layers::docs {

inline LayerDoc alias(const std::string& of) {
  LayerDoc d;
  d.alias_of = of;
  return d;
}

inline const std::string kRecurrentFields =
    "`units`, `activation`, `recurrent_activation` (any supported activation), `use_bias`, "
    "`return_sequences`, `return_state`, `go_backwards`, `stateful`, `unroll`, "
    "`zero_output_for_mask`, `implementation` (any value: all compute the same)";
inline const std::string kRecurrentNotes =
    "; dropout fields are ignored (inference); input masks are honoured, as Keras does: a "
    "Keras 3 model's RNN called with `initial_state` runs unmasked unless the call passes "
    "`mask=` (Keras 3 fills the mask only for a one-tensor call; the output keeps the mask), "
    "and `unroll=True` with `go_backwards`, a mask and `zero_output_for_mask` (Bidirectional "
    "sets it) zeroes the outputs at the mirrored steps, as TensorFlow's unrolled loop does";
inline const std::string kRecurrentOptions = kRecurrentFields + kRecurrentNotes;
inline const std::string kRecurrentStreaming =
    "yes: carries its state from chunk to chunk; refused with go_backwards=True (reads the "
    "sequence backwards)";

inline const LayerDoc identity{
    .group = "Core",
    .summary =
        "The identity at inference (noise, dropout and regularization act only in training).",
    .options = "none read",
    .streaming = "yes (element-wise)"};
inline const LayerDoc masking{
    .group = "Core",
    .summary = "Masks the time steps whose features all equal `mask_value`.",
    .options = "`mask_value` (a number)",
    .refused = "`mask_value` given as a serialized tensor: only numbers are supported",
    .streaming = "yes (per step)"};
inline const LayerDoc embedding{
    .group = "Core",
    .summary =
        "Looks up rows of its table by integer index; an index outside [0, input_dim) is an error.",
    .options = "`input_dim`, `output_dim`, `mask_zero`; `input_length` is ignored",
    .streaming = "yes (element-wise, adds the feature axis)"};
inline const LayerDoc dense{
    .group = "Core",
    .summary = "`activation(x @ kernel + bias)` on the last axis of an input of any rank.",
    .options = "`units`, `activation`, `use_bias`",
    .streaming = "yes (per step)"};
inline const LayerDoc einsum_dense{
    .group = "Core",
    .summary = "`activation(einsum(equation, x, kernel) + bias)`: a Dense along any axes.",
    .options =
        "`equation` (explicit `->`; `...` in the input and output only), `bias_axes`, "
        "`activation`; `output_shape` is implied by the weights",
    .refused =
        "an equation that does not keep the batch axis first (rows would mix); a "
        "Keras 3 bias whose add TensorFlow turns into a bias_add along another axis",
    .path =
        "one GEMM when the kernel contracts the input's last axes in order and the output "
        "keeps the rest in order (`abc,cd->abd`, `...b,bc->...c`, `abc,cde->abde`); "
        "otherwise the einsum loop (double sums)",
    .streaming =
        "per step when the time axis stays axis 1 and neither kernel nor bias has it "
        "(`...b,bc->...c`, `abc,cd->abd`); with `...` and several input labels, refused"};
inline const LayerDoc time_distributed{
    .group = "Core",
    .summary =
        "Applies its wrapped layer to each time step; a wrapped RNN runs each step's "
        "`(inner time, features)` as a sequence of its own, from zero states.",
    .options = "`layer` (any class on this page)",
    .refused =
        "a wrapped stateful recurrent layer; a masked input to a wrapped recurrent layer "
        "(Keras would give it a `(batch,)` mask per step): not supported",
    .path = "that of the wrapped layer",
    .streaming = "yes (per step)"};
inline const LayerDoc spectral_norm{
    .group = "Core",
    .summary =
        "Runs its wrapped layer on the weights as saved: Keras normalizes the kernel (and "
        "stores it) in training only. `vector_u` is read and not used. The mask passes as the "
        "wrapped layer passes it (on TensorFlow it does, though Keras warns it will not).",
    .options = "`layer` (any class on this page with a kernel), `power_iterations` (training)",
    .refused = "integer inputs (Keras casts the output to their dtype); a stateful wrapped layer",
    .path = "that of the wrapped layer",
    .streaming = "as the wrapped layer; refused around a causal Conv1D (its steps carry)"};
inline const LayerDoc activation{
    .group = "Activations",
    .summary = "Applies a named activation function.",
    .options =
        "`activation`: linear, tanh, sigmoid, hard_sigmoid (Keras 2 and 3 formulas), relu, relu6, "
        "leaky_relu, elu, selu, celu, gelu, silu/swish, hard_silu/hard_swish, softsign, softplus, "
        "mish, log_sigmoid, hard_tanh, tanh_shrink, squareplus, sparse_sigmoid, sparse_plus, "
        "soft_shrink, hard_shrink, exponential, softmax, log_softmax, sparsemax",
    .refused =
        "glu and threshold: they change the shape or need arguments; a custom Python function: "
        "recur never runs Python code",
    .streaming = "yes (per step; softmax-like functions act on the last axis)"};
inline const LayerDoc relu{.group = "Activations",
                           .summary = "ReLU with Keras' optional slope, threshold and cap.",
                           .options = "`max_value`, `negative_slope`, `threshold` (none negative)",
                           .streaming = "yes (element-wise)"};
inline const LayerDoc leaky_relu{.group = "Activations",
                                 .summary = "`x` above 0, `slope * x` below.",
                                 .options = "`negative_slope` (Keras 3) or `alpha` (Keras 2)",
                                 .streaming = "yes (element-wise)"};
inline const LayerDoc elu{.group = "Activations",
                          .summary = "Exponential linear unit.",
                          .options = "`alpha`",
                          .streaming = "yes (element-wise)"};
inline const LayerDoc prelu{
    .group = "Activations",
    .summary = "Leaky ReLU with a learned slope per element (shared along `shared_axes`).",
    .options = "the stored `alpha` weight (its shape carries `shared_axes`)",
    .streaming =
        "yes when alpha is shared along the time axis; else refused (an alpha per time step)"};
inline const LayerDoc softmax{
    .group = "Activations",
    .summary = "Softmax over one or several axes, with Keras' mask handling.",
    .options = "`axis` (an integer or a list)",
    .streaming =
        "yes when every axis is a feature axis (-1 or >= 2); refused over the time axis or "
        "with a mask"};
inline const LayerDoc elementwise_merge{
    .group = "Merge",
    .summary = "Element-wise merge of its inputs (Subtract takes exactly 2).",
    .options = "none read",
    .refused =
        "Keras 3 Add/Average of an input with one dimension above 1 that Keras' "
        "TensorFlow add() takes as a bias along another axis than numpy broadcasting "
        "(a (batch, 1, 1) input beside (batch, T, 1) with batch == T): Keras' result "
        "depends on the batch size",
    .streaming = "yes (element-wise)"};
inline const LayerDoc concatenate{
    .group = "Merge",
    .summary = "Concatenates its inputs along one axis, merging their masks as Keras does.",
    .options = "`axis`",
    .streaming = "yes unless `axis` is the time axis"};
inline const LayerDoc dot{.group = "Merge",
                          .summary = "Batched dot product of two inputs, optionally L2-normalized.",
                          .options = "`axes` (an integer or a pair), `normalize`",
                          .streaming = "no (multiplies across time steps)"};
inline const LayerDoc batch_norm{
    .group = "Normalization",
    .summary =
        "Normalizes with the stored moving mean and variance (inference), Keras 2's fused "
        "formula where Keras 2 used it.",
    .options = "`axis` (one axis), `epsilon`, `center`, `scale`",
    .refused = "`axis` naming several axes: not supported",
    .streaming =
        "yes when `axis` is a feature axis; refused on the time axis (parameters per step)"};
inline const LayerDoc layer_norm{
    .group = "Normalization",
    .summary = "Normalizes each sample over the given axes.",
    .options = "`axis` (an integer or a list), `epsilon`, `center`, `scale`, `rms_scaling`",
    .streaming = "yes when every axis is a feature axis; refused over the time axis"};
inline const LayerDoc group_norm{
    .group = "Normalization",
    .summary =
        "Per sample, the channels split into `groups`, each normalized over its channels "
        "and every other axis (time included) with gamma and beta per channel.",
    .options = "`groups`, `axis`, `epsilon`, `center`, `scale`",
    .refused =
        "a masked input in a tf.keras 2 file (tf.keras broadcasts the (batch, time) mask "
        "to the input's shape)",
    .streaming = "no (normalizes over the time axis)"};
inline const LayerDoc rms_norm{
    .group = "Normalization",
    .summary =
        "Keras 3's `x * rsqrt(mean(x^2) + epsilon) * scale` over `axis`; the scale is "
        "multiplied into the input's trailing axes, as Keras broadcasts it. The mask stops "
        "here (no support for masking in Keras).",
    .options = "`axis` (an int or a list), `epsilon`",
    .streaming = "yes (per step) when `axis` leaves out the batch and time axes"};
inline const LayerDoc unit_norm{
    .group = "Normalization",
    .summary =
        "Scales to unit L2 norm over `axis`: Keras 3 `x * min(rsqrt(sum(x^2)), 1e12)`, "
        "tf.keras 2 `x * rsqrt(max(sum(x^2), 1e-12))`. The mask passes on.",
    .options = "`axis` (an integer or a list)",
    .streaming = "yes unless `axis` includes the time axis"};
inline const LayerDoc normalization{
    .group = "Preprocessing",
    .summary =
        "`(x - mean) / max(sqrt(variance), 1e-7)` with the adapted (or given) mean and "
        "variance; `invert` maps back. The mask passes on in Keras 3 files, not in tf.keras 2's "
        "(which drop it).",
    .options =
        "`axis` (kept axes: an integer, a list or null), `mean` and `variance` (numbers, "
        "or lists along the last kept axis), `invert`",
    .refused = "a `mean` nested deeper than a list; parameters per batch row: not supported",
    .streaming = "yes unless the time axis is kept (parameters per step)"};
inline const std::string kEncodingModes =
    "`one_hot` (a row per value; a last axis of size 1 is replaced), "
    "`multi_hot` and `count` (a row per sample of a (batch, n) input; categories past the "
    "depth add nothing, as TensorFlow's bincount)";
inline const std::string kEncodingStreaming =
    "`int`: yes (element-wise); `one_hot`: yes on inputs with a feature axis; `multi_hot`, "
    "`count`: no (they count over the whole input)";
inline const LayerDoc discretization{
    .group = "Preprocessing",
    .summary =
        "Bucket indices: the number of `bin_boundaries` at or below each value (TensorFlow's "
        "bucketize; NaN lands past the last boundary), as exact integers an Embedding can read, "
        "or encoded. The mask ends here.",
    .options =
        "`bin_boundaries` (sorted numbers; adapted Keras 3 layers record them), "
        "`output_mode`: `int` (the default), " +
        kEncodingModes,
    .refused =
        "no `bin_boundaries` (a tf.keras 2 adapted layer keeps a quantile summary instead): not "
        "supported; `sparse=True`: not supported; `multi_hot`/`count` of an input of rank other "
        "than 2: not supported",
    .streaming = kEncodingStreaming};
inline const LayerDoc category_encoding{
    .group = "Preprocessing",
    .summary =
        "One-hot, multi-hot or count vectors of integer categories in `[0, num_tokens)` (float "
        "inputs cast toward zero, as TensorFlow). Keras 3: a one-hot of a category out of range "
        "is zeros and a count ignores categories past the depth; a negative one is refused in "
        "counts (TensorFlow fails). tf.keras 2 files: any category out of range is refused, as "
        "tf.keras asserts. The mask ends here.",
    .options = "`num_tokens`, `output_mode` (default `multi_hot`): " + kEncodingModes,
    .refused =
        "`sparse=True`, `count_weights`: not supported; `multi_hot`/`count` of an input "
        "of rank other than 2: not supported",
    .streaming = kEncodingStreaming};
inline const LayerDoc integer_lookup{
    .group = "Preprocessing",
    .summary =
        "Integers to vocabulary indices (Keras 3 files): the mask token to 0 (`int` mode), a "
        "vocabulary token to its position after the mask and OOV indices, any other value to "
        "an OOV index (`floormod` or a hash over several); `invert` maps indices back to tokens. "
        "The "
        "vocabulary comes from the config or, for an adapted layer, from the .keras archive's "
        "`assets/.../vocabulary.txt`. Indices stay exact integers for an Embedding. A value out "
        "of the vocabulary with `num_oov_indices=0` is an error at call time, as in Keras.",
    .options =
        "`vocabulary`, `num_oov_indices`, `oov_method` (`floormod`, or `farmhash` with an "
        "optional `salt`: the Hashing layer's buckets), `oov_token`, `mask_token`, `invert`, "
        "`max_tokens`, `pad_to_max_tokens`, `vocabulary_dtype` (int64, int32), "
        "`output_mode`: `int` (the default), " +
        kEncodingModes,
    .refused =
        "no vocabulary in the file (an adapted layer saved as .h5 loses it): not supported; a "
        "vocabulary file path outside the model file, `tf_idf`, `sparse=True`, a "
        "vocabulary of more than 2^24 tokens, tf.keras 2 files: not "
        "supported",
    .streaming = kEncodingStreaming};
inline const LayerDoc hashing{
    .group = "Preprocessing",
    .summary =
        "Integers to hash buckets, as TensorFlow hashes them: FarmHash's Fingerprint64 (or "
        "SipHash-2-4 with a `salt`) of the value's decimal string, modulo the bins. Keras 3 casts "
        "float inputs toward zero first (NaN and infinities are refused); tf.keras 2 files hash "
        "integer inputs only, as tf.keras does. With a `mask_value`, its values take bucket 0 and "
        "the others hash into the remaining bins. Buckets stay exact integers for an Embedding. "
        "The mask ends here.",
    .options =
        "`num_bins`, `salt` (an integer or two), `mask_value` (a number), "
        "`output_mode`: `int` (the default), " +
        kEncodingModes,
    .refused =
        "string inputs or a string `mask_value`, `sparse=True`: not supported; `multi_hot`/"
        "`count` of an input of rank other than 2: not supported",
    .streaming = kEncodingStreaming};
inline const LayerDoc hashed_crossing{
    .group = "Preprocessing",
    .summary =
        "The cross of two or more integer features, one value per sample, as a hash bucket "
        "(TensorFlow's `tf.sparse.cross_hashed`: FarmHash's FingerprintCat64 of the values in "
        "input order, modulo the bins). Buckets stay exact integers for an Embedding.",
    .options = "`num_bins`, `output_mode`: `int` (the default) or `one_hot`",
    .refused =
        "string or float inputs (Keras crosses integers and strings), inputs of another shape "
        "than (batch,) or (batch, 1) (as Keras), `sparse=True`: not supported",
    .streaming = "no (it crosses one value per sample)"};
inline const LayerDoc rescaling{
    .group = "Preprocessing",
    .summary = "`x * scale + offset`. The mask passes on in Keras 3 files, not in tf.keras 2's.",
    .options = "`scale`, `offset` (numbers)",
    .refused =
        "a list `scale` or `offset`: not supported (it lies along the channels of "
        "`keras.config.image_data_format()`, which the file does not record)",
    .streaming = "yes (element-wise)"};
inline const LayerDoc augmentation{
    .group = "Preprocessing",
    .summary =
        "A random image augmentation: the identity at inference, as in Keras (it acts "
        "only in training). The mask stops here (no support for masking in Keras).",
    .options = "none read",
    .streaming = "yes (element-wise)"};
inline const LayerDoc random_crop{
    .group = "Preprocessing",
    .summary = "The identity at inference where it crops to its input's own height and width.",
    .options = "`height`, `width`, `data_format`",
    .refused =
        "a crop to another height or width: at inference tf.keras 2 and early Keras 3 "
        "crop and resize, Keras 3.15 returns the input, and the file does not say which it "
        "expects",
    .streaming = "yes (element-wise)"};
inline const LayerDoc conv1d{
    .group = "Convolution and pooling",
    .summary = "1-D convolution over time.",
    .options =
        "`filters`, `kernel_size`, `strides`, `padding` (valid, same, causal), `dilation_rate`, "
        "`groups`, `activation`, `use_bias`, `data_format` (channels_last, channels_first)",
    .refused = "any other `padding`: not supported",
    .streaming =
        "kernel 1: yes (per step); causal padding (any dilation): yes, keeping the last "
        "(kernel-1)*dilation input steps in the session; otherwise, channels_first or "
        "strides > 1: no"};
inline const LayerDoc pool1d{
    .group = "Convolution and pooling",
    .summary = "Max or average pooling over time windows.",
    .options = "`pool_size`, `strides` (None: pool_size), `padding` (valid, same), `data_format`",
    .refused = "any other `padding`: not supported",
    .streaming = "no (pools over time windows)"};
inline const LayerDoc global_pool1d{.group = "Convolution and pooling",
                                    .summary = "Max or average over the whole time axis.",
                                    .options = "`keepdims`, `data_format`",
                                    .streaming = "no (pools over the whole sequence)"};
inline const LayerDoc flatten{.group = "Shape",
                              .summary = "Flattens all axes after the batch.",
                              .options = "`data_format`",
                              .streaming = "no (flattens the time axis)"};
inline const LayerDoc reshape{.group = "Shape",
                              .summary = "Reshapes the axes after the batch (one -1 allowed).",
                              .options = "`target_shape`",
                              .streaming = "no (reshapes across the time axis)"};
inline const LayerDoc repeat_vector{
    .group = "Shape",
    .summary = "Repeats a (batch, features) input n times along a new time axis.",
    .options = "`n`",
    .streaming = "no (repeats its input along a new time axis)"};
inline const LayerDoc permute{.group = "Shape",
                              .summary = "Permutes the axes after the batch.",
                              .options = "`dims`",
                              .streaming = "yes when the time axis stays in place; else no"};
inline const LayerDoc cropping1d{.group = "Shape",
                                 .summary = "Drops steps at the start and end of the time axis.",
                                 .options = "`cropping` (an integer or a pair)",
                                 .streaming = "no (crops time steps)"};
inline const LayerDoc zero_padding1d{
    .group = "Shape",
    .summary = "Adds zero steps at the start and end of the time axis.",
    .options = "`padding` (an integer or a pair), `data_format`",
    .streaming = "no (pads time steps)"};
inline const LayerDoc upsampling1d{.group = "Shape",
                                   .summary = "Repeats each time step `size` times.",
                                   .options = "`size`",
                                   .streaming = "no (repeats time steps)"};
inline const LayerDoc simple_rnn{
    .group = "Recurrent",
    .summary = "Fully connected RNN.",
    .options = kRecurrentOptions,
    .refused = "`time_major=True`: not supported",
    .path = "fused simple_rnn op (masks, go_backwards and unroll included)",
    .streaming = kRecurrentStreaming};
inline const LayerDoc lstm{
    .group = "Recurrent",
    .summary =
        "LSTM; Keras 2 files holding cuDNN-layout weights are converted as Keras converts them.",
    .options = kRecurrentOptions,
    .refused = "`time_major=True`: not supported",
    .path = "fused lstm op (masks, go_backwards and unroll included)",
    .streaming = kRecurrentStreaming};
inline const LayerDoc gru{
    .group = "Recurrent",
    .summary =
        "GRU, reset_after True or False (Keras 2 before 2.3 defaults to False); cuDNN-layout "
        "weights in Keras 2 files are converted as Keras converts them.",
    .options = kRecurrentFields + ", `reset_after`" + kRecurrentNotes,
    .refused = "`time_major=True`: not supported",
    .path = "fused gru op (masks, go_backwards and unroll included)",
    .streaming = kRecurrentStreaming};
inline const LayerDoc rnn{
    .group = "Recurrent",
    .summary = "The generic RNN layer around a cell.",
    .options =
        "`cell`: SimpleRNNCell, LSTMCell, GRUCell or StackedRNNCells of them; the other "
        "recurrent options as for LSTM",
    .refused = "any other cell class (a custom cell holds Python code): not supported",
    .path = "a single built-in cell: its fused op; StackedRNNCells: the step loop",
    .streaming = kRecurrentStreaming};
inline const LayerDoc cudnn{
    .group = "Recurrent",
    .summary =
        "Keras 2's cuDNN layers, run on the CPU with their weights converted exactly as Keras "
        "converts them (tanh/sigmoid, with bias; GRU with reset_after=True).",
    .options =
        "`units`, `return_sequences`, `return_state`, `go_backwards`, `stateful`; `activation` "
        "and `use_bias` are ignored, as in Keras",
    .path = "fused lstm / gru op",
    .streaming = kRecurrentStreaming};
inline const LayerDoc bidirectional{
    .group = "Recurrent",
    .summary = "Runs a recurrent layer forwards and a copy (or `backward_layer`) backwards.",
    .options =
        "`layer`, `backward_layer` (recurrent layers, with their options and refusals), "
        "`merge_mode` (concat, sum, mul, ave, None)",
    .path = "that of each half",
    .streaming = "no (reads the sequence backwards)"};

inline const LayerDoc conv_lstm{
    .group = "Recurrent",
    .summary = "ConvLSTM1D/2D/3D: an LSTM whose products are convolutions over each step's grid.",
    .options =
        "`filters`, `kernel_size`, `strides`, `padding` (valid, same), `dilation_rate`, "
        "`data_format` (channels_last, channels_first), `activation`, `recurrent_activation`, "
        "`use_bias`, `unit_forget_bias`, `return_sequences`, `return_state`, `go_backwards`, "
        "`stateful`" +
        kRecurrentNotes,
    .path =
        "fused conv_lstm op: every step's input convolution as one im2col GEMM, then per step "
        "the recurrent convolution (stride 1, same) and the gates",
    .streaming = kRecurrentStreaming};
inline const LayerDoc conv_nd{
    .group = "Convolution and pooling",
    .summary = "2-D and 3-D convolution (im2col + packed GEMM).",
    .options =
        "`filters`, `kernel_size`, `strides`, `padding` (valid, same), `dilation_rate`, "
        "`groups`, `activation`, `use_bias`, `data_format` (channels_last, channels_first)",
    .refused = "strides > 1 together with dilation > 1: Keras refuses it too",
    .streaming = "channels_last: no (convolves across axis 1); channels_first: no"};
inline const LayerDoc conv_transpose{
    .group = "Convolution and pooling",
    .summary =
        "Transposed 1-D, 2-D and 3-D convolution (GEMM of the input by the kernel, then a "
        "col2im scatter-add), output sizes as Keras asks TensorFlow for.",
    .options =
        "`filters`, `kernel_size`, `strides`, `padding` (valid, same), `output_padding` "
        "(None or below `strides`), `dilation_rate`, `activation`, `use_bias`, "
        "`data_format` (channels_last, channels_first)",
    .refused =
        "strides > 1 together with dilation > 1: Keras refuses it too; 'same' padding with "
        "`output_padding` 0 and an even dilated kernel: TensorFlow refuses that output size; "
        "`groups` other than 1; Keras 2 files: Conv3DTranspose `dilation_rate` > 1 (Keras 2 "
        "ignores it), Conv2DTranspose unequal rates (Keras 2 fails on them)",
    .streaming = "no (spreads each step over several output steps)"};
inline const LayerDoc depthwise{
    .group = "Convolution and pooling",
    .summary =
        "Depthwise 1-D/2-D convolution (`depth_multiplier` filters per channel), run as a "
        "grouped convolution.",
    .options =
        "`kernel_size`, `strides`, `padding` (valid, same), `dilation_rate`, `depth_multiplier`, "
        "`activation`, `use_bias`, `data_format`",
    .streaming = "no (convolves across axis 1)"};
inline const LayerDoc separable{
    .group = "Convolution and pooling",
    .summary = "Separable 1-D/2-D convolution: a depthwise convolution, then a 1x1 convolution.",
    .options =
        "`filters`, `kernel_size`, `strides`, `padding` (valid, same), `dilation_rate`, "
        "`depth_multiplier`, `activation`, `use_bias`, `data_format`",
    .streaming = "no (convolves across axis 1)"};
inline const LayerDoc pool_nd{
    .group = "Convolution and pooling",
    .summary =
        "Max or average pooling over 2-D or 3-D windows (averages at 'same' borders count "
        "only the real elements, as TensorFlow does).",
    .options = "`pool_size`, `strides` (None: pool_size), `padding` (valid, same), `data_format`",
    .streaming = "channels_first: yes (per step); channels_last: no (pools across axis 1)"};
inline const LayerDoc global_pool_nd{.group = "Convolution and pooling",
                                     .summary = "Max or average over all 2-D or 3-D positions.",
                                     .options = "`keepdims`, `data_format`",
                                     .streaming = "no (pools across axis 1)"};
inline const LayerDoc adaptive_pool{
    .group = "Convolution and pooling",
    .summary =
        "Keras 3's adaptive max or average pooling to `output_size` windows per spatial "
        "axis: window i spans [floor(i L / n), ceil((i + 1) L / n)), as Keras' TensorFlow "
        "backend computes it, one axis after the other.",
    .options = "`output_size` (an integer or one per axis), `data_format`",
    .streaming = "no (pools across axis 1)"};
inline const LayerDoc spatial_shape{
    .group = "Shape",
    .summary = "UpSampling, ZeroPadding and Cropping over 2-D or 3-D grids.",
    .options =
        "`size` / `padding` / `cropping` (an integer, or one value or pair per axis), "
        "`data_format`; UpSampling2D `interpolation` nearest, bilinear, bicubic, area "
        "(TensorFlow's half-pixel resizes)",
    .refused =
        "UpSampling2D `interpolation` lanczos3, lanczos5, gaussian, mitchellcubic: not "
        "supported",
    .streaming = "channels_first: yes (per step); channels_last: no (acts across axis 1)"};
inline const LayerDoc resizing{
    .group = "Preprocessing",
    .summary =
        "Resizing: images to (height, width) as tf.image.resize (half-pixel, no antialiasing); "
        "CenterCrop: the centred (height, width) box.",
    .options =
        "`height`, `width`, `data_format`; Resizing `interpolation` bilinear, bicubic, nearest "
        "and `crop_to_aspect_ratio` (the centred box of the target's aspect ratio first)",
    .refused =
        "Resizing `interpolation` area, lanczos3/5, `antialias`, `pad_to_aspect_ratio`, "
        "integer images; CenterCrop of an image smaller than the crop (Keras resizes it)",
    .streaming = "no (acts across the first spatial axis)"};
inline const LayerDoc attention{
    .group = "Attention",
    .summary = "Luong (dot-product) attention over [query, value] or [query, value, key].",
    .options =
        "`score_mode` (dot, concat), `use_scale`, `dropout` (ignored: inference); call "
        "arguments `use_causal_mask`, `return_attention_scores`, Keras 2's `causal` field; "
        "query and value masks",
    .refused = "inputs other than rank 3; any other call argument: not supported",
    .streaming = "no (attends across time steps)"};
inline const LayerDoc additive_attention{
    .group = "Attention",
    .summary = "Bahdanau (additive) attention over [query, value] or [query, value, key].",
    .options = "`use_scale`, `dropout` (ignored: inference); call arguments as for Attention",
    .refused = "inputs other than rank 3; any other call argument: not supported",
    .streaming = "no (attends across time steps)"};
inline const LayerDoc multi_head_attention{
    .group = "Attention",
    .summary = "Multi-head attention with query/key/value/output projections (packed GEMM).",
    .options =
        "`num_heads`, `key_dim`, `value_dim`, `use_bias`, `output_shape`, `dropout` (ignored); "
        "call inputs query, value, key, `attention_mask`, `use_causal_mask`, "
        "`return_attention_scores`, Keras 3's `query_mask`/`value_mask`/`key_mask`",
    .refused =
        "`attention_axes` other than the time axis, `use_gate`, `sliding_window`: not "
        "supported; inputs other than rank 3",
    .streaming = "no (attends across time steps)"};

}  // namespace recur::layers::docs
