// ConvLSTMCell: Keras' LSTM with convolutions (keras/src/layers/rnn/conv_lstm.py), channels_last,
// rank 1 to 3. Direct convolution loops: these cells are small and rare, exactness comes first.
#include <array>
#include <cstring>
#include <string>

#include "recur/cells.hpp"

namespace recur {

namespace {

constexpr const char* kCls = "ConvLSTMCell";

[[noreturn]] void bad(const std::string& what) { throw InvalidArgument(std::string(kCls) + ": " + what); }

// Geometry of one convolution over up to 3 spatial axes (missing axes have size 1).
struct Conv {
  std::array<size_t, 3> in{1, 1, 1}, out{1, 1, 1}, k{1, 1, 1}, s{1, 1, 1}, d{1, 1, 1};
  std::array<long, 3> pad{0, 0, 0};  // padding before, per axis
  size_t cin = 0, cout = 0;
};

Conv geometry(const std::vector<size_t>& in, size_t cin, const std::vector<long>& k,
              const std::vector<long>& s, const std::vector<long>& d, bool same, size_t cout) {
  Conv c;
  c.cin = cin;
  c.cout = cout;
  for (size_t a = 0; a < in.size(); ++a) {
    c.in[a] = in[a];
    c.k[a] = static_cast<size_t>(k[a]);
    c.s[a] = static_cast<size_t>(s[a]);
    c.d[a] = static_cast<size_t>(d[a]);
    const size_t span = (c.k[a] - 1) * c.d[a] + 1;
    if (same) {
      c.out[a] = (c.in[a] + c.s[a] - 1) / c.s[a];
      const long total = static_cast<long>((c.out[a] - 1) * c.s[a] + span) - static_cast<long>(c.in[a]);
      c.pad[a] = total > 0 ? total / 2 : 0;  // TensorFlow puts the odd one after
    } else {
      if (c.in[a] < span) bad("input size " + std::to_string(c.in[a]) + " is smaller than the kernel span " + std::to_string(span));
      c.out[a] = (c.in[a] - span) / c.s[a] + 1;
    }
  }
  return c;
}

// y (B, out..., cout) = conv(x (B, in..., cin), w (k..., cin, cout)) (+= when accumulate).
void conv(const Conv& c, size_t B, const float* x, const float* w, float* y) {
  const size_t out_n = c.out[0] * c.out[1] * c.out[2];
  for (size_t b = 0; b < B; ++b) {
    for (size_t o0 = 0; o0 < c.out[0]; ++o0)
      for (size_t o1 = 0; o1 < c.out[1]; ++o1)
        for (size_t o2 = 0; o2 < c.out[2]; ++o2) {
          float* yo = y + ((b * c.out[0] + o0) * c.out[1] * c.out[2] + o1 * c.out[2] + o2) * c.cout;
          for (size_t k0 = 0; k0 < c.k[0]; ++k0) {
            const long i0 = static_cast<long>(o0 * c.s[0] + k0 * c.d[0]) - c.pad[0];
            if (i0 < 0 || i0 >= static_cast<long>(c.in[0])) continue;
            for (size_t k1 = 0; k1 < c.k[1]; ++k1) {
              const long i1 = static_cast<long>(o1 * c.s[1] + k1 * c.d[1]) - c.pad[1];
              if (i1 < 0 || i1 >= static_cast<long>(c.in[1])) continue;
              for (size_t k2 = 0; k2 < c.k[2]; ++k2) {
                const long i2 = static_cast<long>(o2 * c.s[2] + k2 * c.d[2]) - c.pad[2];
                if (i2 < 0 || i2 >= static_cast<long>(c.in[2])) continue;
                const float* xi = x + (((b * c.in[0] + static_cast<size_t>(i0)) * c.in[1] + static_cast<size_t>(i1)) * c.in[2] +
                                       static_cast<size_t>(i2)) * c.cin;
                const float* wk = w + ((k0 * c.k[1] + k1) * c.k[2] + k2) * c.cin * c.cout;
                for (size_t ci = 0; ci < c.cin; ++ci) {
                  const float xv = xi[ci];
                  const float* wr = wk + ci * c.cout;
                  for (size_t co = 0; co < c.cout; ++co) yo[co] += xv * wr[co];
                }
              }
            }
          }
        }
  }
  (void)out_n;
}

size_t product(const std::vector<size_t>& v) {
  size_t n = 1;
  for (size_t x : v) n *= x;
  return n;
}

}  // namespace

ConvLSTMCell::ConvLSTMCell(ConvLSTMCellConfig cfg, std::vector<size_t> input_shape, Tensor kernel,
                           Tensor recurrent_kernel, std::optional<Tensor> bias)
    : cfg_(std::move(cfg)),
      input_shape_(std::move(input_shape)),
      kernel_(std::move(kernel)),
      recurrent_kernel_(std::move(recurrent_kernel)),
      bias_(std::move(bias)) {
  const size_t rank = cfg_.kernel_size.size();
  if (rank < 1 || rank > 3) bad("kernel_size must have 1 to 3 entries");
  if (cfg_.filters <= 0 || cfg_.filters > (1L << 24)) bad("filters must be a positive integer, got " + std::to_string(cfg_.filters));
  if (cfg_.strides.empty()) cfg_.strides.assign(rank, 1);
  if (cfg_.dilation_rate.empty()) cfg_.dilation_rate.assign(rank, 1);
  if (cfg_.strides.size() != rank || cfg_.dilation_rate.size() != rank) bad("strides and dilation_rate need one entry per axis");
  bool strided = false, dilated = false;
  for (size_t a = 0; a < rank; ++a) {
    if (cfg_.kernel_size[a] <= 0 || cfg_.kernel_size[a] > 4096) bad("kernel_size entries must be positive");
    if (cfg_.strides[a] <= 0 || cfg_.strides[a] > 4096) bad("strides must be positive");
    if (cfg_.dilation_rate[a] <= 0 || cfg_.dilation_rate[a] > 4096) bad("dilation_rate must be positive");
    strided |= cfg_.strides[a] > 1;
    dilated |= cfg_.dilation_rate[a] > 1;
  }
  if (strided && dilated) bad("strides > 1 together with dilation_rate > 1 is not allowed (as in Keras)");
  if (cfg_.padding != "valid" && cfg_.padding != "same") bad("padding must be 'valid' or 'same', got '" + cfg_.padding + "'");
  if (input_shape_.size() != rank + 1) bad("input_shape must be (spatial x" + std::to_string(rank) + ", channels)");
  for (size_t v : input_shape_) if (v == 0) bad("input_shape has a zero size");
  const size_t cin = input_shape_.back(), f = static_cast<size_t>(cfg_.filters);
  std::vector<size_t> kshape(cfg_.kernel_size.begin(), cfg_.kernel_size.end());
  std::vector<size_t> want = kshape;
  want.push_back(cin);
  want.push_back(4 * f);
  if (kernel_.shape() != want) bad("kernel must have shape " + shape_str(want) + ", got " + kernel_.shape_str());
  want = kshape;
  want.push_back(f);
  want.push_back(4 * f);
  if (recurrent_kernel_.shape() != want) bad("recurrent_kernel must have shape " + shape_str(want) + ", got " + recurrent_kernel_.shape_str());
  if (cfg_.use_bias != bias_.has_value()) bad(cfg_.use_bias ? "use_bias=True but no bias was given" : "use_bias=False but a bias was given");
  if (bias_ && bias_->shape() != std::vector<size_t>{4 * f}) bad("bias must have shape (" + std::to_string(4 * f) + ",), got " + bias_->shape_str());
  const Conv c = geometry({input_shape_.begin(), input_shape_.end() - 1}, cin, cfg_.kernel_size, cfg_.strides,
                          cfg_.dilation_rate, cfg_.padding == "same", 4 * f);
  output_shape_.assign(c.out.begin(), c.out.begin() + static_cast<std::ptrdiff_t>(rank));
  output_shape_.push_back(f);
}

size_t ConvLSTMCell::input_size() const { return product(input_shape_); }
size_t ConvLSTMCell::output_size() const { return product(output_shape_); }

void ConvLSTMCell::step(const Tensor& x, std::span<const Tensor> states, Tensor& out,
                        std::span<Tensor> new_states) const {
  const size_t rank = cfg_.kernel_size.size(), f = static_cast<size_t>(cfg_.filters);
  if (x.rank() != rank + 2 || std::vector<size_t>(x.shape().begin() + 1, x.shape().end()) != input_shape_) {
    bad("step input must have shape (batch, " + shape_str(input_shape_).substr(1) + ", got " + x.shape_str());
  }
  const size_t B = x.dim(0);
  std::vector<size_t> sshape = output_shape_;
  sshape.insert(sshape.begin(), B);
  if (states.size() != 2 || new_states.size() != 2 || states[0].shape() != sshape || states[1].shape() != sshape) {
    bad("states must be [h, c], each of shape " + shape_str(sshape));
  }
  const std::vector<size_t> in_sp(input_shape_.begin(), input_shape_.end() - 1);
  const std::vector<size_t> out_sp(output_shape_.begin(), output_shape_.end() - 1);
  const Conv xc = geometry(in_sp, input_shape_.back(), cfg_.kernel_size, cfg_.strides, cfg_.dilation_rate,
                           cfg_.padding == "same", 4 * f);
  const std::vector<long> ones(rank, 1);
  const Conv hc = geometry(out_sp, f, cfg_.kernel_size, ones, ones, true, 4 * f);
  const size_t cells = product(out_sp);
  std::vector<float> xz(B * cells * 4 * f, 0.0f), hz(B * cells * 4 * f, 0.0f);
  conv(xc, B, x.data(), kernel_.data(), xz.data());
  if (bias_) {
    for (size_t p = 0; p < B * cells; ++p)
      for (size_t g = 0; g < 4 * f; ++g) xz[p * 4 * f + g] += (*bias_)[g];
  }
  conv(hc, B, states[0].data(), recurrent_kernel_.data(), hz.data());
  new_states[0].resize(sshape);
  new_states[1].resize(sshape);
  std::vector<float> gate(4 * f);
  for (size_t p = 0; p < B * cells; ++p) {
    for (size_t g = 0; g < 4 * f; ++g) gate[g] = xz[p * 4 * f + g] + hz[p * 4 * f + g];
    apply_activation(cfg_.recurrent_activation, gate.data(), f);          // i
    apply_activation(cfg_.recurrent_activation, gate.data() + f, f);      // f
    apply_activation(cfg_.activation, gate.data() + 2 * f, f);            // c candidate
    apply_activation(cfg_.recurrent_activation, gate.data() + 3 * f, f);  // o
    const float* cp = states[1].data() + p * f;
    float* cn = new_states[1].data() + p * f;
    float* hn = new_states[0].data() + p * f;
    for (size_t j = 0; j < f; ++j) cn[j] = gate[f + j] * cp[j] + gate[j] * gate[2 * f + j];
    std::memcpy(hn, cn, f * sizeof(float));
    apply_activation(cfg_.activation, hn, f);
    for (size_t j = 0; j < f; ++j) hn[j] *= gate[3 * f + j];
  }
  out = new_states[0];
}

}  // namespace recur
