// Bad input to the C++ API: recur must throw InvalidArgument (caller's mistake) or Unsupported
// (valid Keras, not implemented) with a message that names what is wrong. NaN in the data is
// not bad input: it propagates like any value (Keras does not check), without exceptions.
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "recur/recur.hpp"

namespace {

using recur::Tensor;
using Shape = std::vector<size_t>;

enum class Want { invalid, unsupported, either };

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

// f() must throw the wanted recur error whose message contains at least one of `any_of`
// (case-insensitive): the field, argument or name at fault.
void expect_error(const std::function<void()>& f, Want want, const std::vector<std::string>& any_of,
                  const std::string& what) {
  SCOPED_TRACE(what);
  std::string msg;
  try {
    f();
    ADD_FAILURE() << what << ": no exception thrown";
    return;
  } catch (const recur::InvalidArgument& e) {
    msg = e.what();
    EXPECT_NE(want, Want::unsupported)
        << what << ": InvalidArgument, expected Unsupported: " << msg;
  } catch (const recur::Unsupported& e) {
    msg = e.what();
    EXPECT_NE(want, Want::invalid) << what << ": Unsupported, expected InvalidArgument: " << msg;
  } catch (const std::exception& e) {
    ADD_FAILURE() << what << ": not a recur::InvalidArgument/Unsupported: " << e.what();
    return;
  }
  const std::string m = lower(msg);
  bool found = false;
  std::string list;
  for (const std::string& s : any_of) {
    found = found || m.find(lower(s)) != std::string::npos;
    list += " '" + s + "'";
  }
  EXPECT_TRUE(found) << what << ": message \"" << msg << "\" names none of" << list;
}

Tensor filled(Shape shape, float start = 0.1f) {
  Tensor t(shape);
  for (size_t i = 0; i < t.size(); ++i) t[i] = start + 0.01f * static_cast<float>(i % 13) - 0.05f;
  return t;
}

constexpr size_t kIn = 3, kU = 4, kB = 2, kT = 5;

recur::LSTMCellConfig lstm_cfg(long units = kU, bool use_bias = true) {
  recur::LSTMCellConfig c;
  c.units = units;
  c.use_bias = use_bias;
  return c;
}
recur::GRUCellConfig gru_cfg(bool reset_after, bool use_bias = true) {
  recur::GRUCellConfig c;
  c.units = kU;
  c.reset_after = reset_after;
  c.use_bias = use_bias;
  return c;
}
recur::SimpleRNNCellConfig simple_cfg(long units = kU, bool use_bias = true) {
  recur::SimpleRNNCellConfig c;
  c.units = units;
  c.use_bias = use_bias;
  return c;
}

std::shared_ptr<recur::LSTMCell> good_lstm(size_t in = kIn) {
  return std::make_shared<recur::LSTMCell>(lstm_cfg(), filled({in, 4 * kU}), filled({kU, 4 * kU}),
                                           filled({4 * kU}));
}

recur::RNN good_layer(recur::RNNOptions o = {}) { return recur::RNN(good_lstm(), o); }

// ------------------------------------------------------------------ cell construction

TEST(BadInput, UnitsMustBePositive) {
  for (long units : {0L, -3L}) {
    const std::string w = "units=" + std::to_string(units);
    expect_error([&] { recur::LSTMCell(lstm_cfg(units), Tensor(), Tensor(), Tensor()); },
                 Want::invalid, {"units"}, "LSTMCell " + w);
    expect_error([&] { recur::GRUCell(recur::GRUCellConfig{units}, Tensor(), Tensor(), Tensor()); },
                 Want::invalid, {"units"}, "GRUCell " + w);
    expect_error([&] { recur::SimpleRNNCell(simple_cfg(units), Tensor(), Tensor(), Tensor()); },
                 Want::invalid, {"units"}, "SimpleRNNCell " + w);
  }
}

TEST(BadInput, KernelShape) {
  expect_error(
      [] {
        recur::LSTMCell(lstm_cfg(), filled({kIn, 3 * kU}), filled({kU, 4 * kU}), filled({4 * kU}));
      },
      Want::invalid, {"kernel"}, "LSTM kernel (in, 3u)");
  expect_error(
      [] {
        recur::LSTMCell(lstm_cfg(), filled({4 * kU}), filled({kU, 4 * kU}), filled({4 * kU}));
      },
      Want::invalid, {"kernel"}, "LSTM kernel rank 1");
  expect_error(
      [] {
        recur::LSTMCell(lstm_cfg(), filled({1, kIn, 4 * kU}), filled({kU, 4 * kU}),
                        filled({4 * kU}));
      },
      Want::invalid, {"kernel"}, "LSTM kernel rank 3");
  // Transposed Keras kernel (a common conversion mistake).
  expect_error(
      [] {
        recur::GRUCell(gru_cfg(true), filled({3 * kU, kIn}), filled({kU, 3 * kU}),
                       filled({2, 3 * kU}));
      },
      Want::invalid, {"kernel"}, "GRU kernel transposed");
  expect_error(
      [] {
        recur::SimpleRNNCell(simple_cfg(), filled({kIn, kU + 1}), filled({kU, kU}), filled({kU}));
      },
      Want::invalid, {"kernel"}, "SimpleRNN kernel (in, u+1)");
  // Weights for 4 units, config says 5.
  expect_error(
      [] {
        recur::LSTMCell(lstm_cfg(5), filled({kIn, 4 * kU}), filled({kU, 4 * kU}), filled({4 * kU}));
      },
      Want::invalid, {"kernel", "units"}, "LSTM weights for other units");
}

TEST(BadInput, RecurrentKernelShape) {
  expect_error(
      [] {
        recur::LSTMCell(lstm_cfg(), filled({kIn, 4 * kU}), filled({kU + 1, 4 * kU}),
                        filled({4 * kU}));
      },
      Want::invalid, {"recurrent_kernel", "recurrent kernel"}, "LSTM recurrent_kernel (u+1, 4u)");
  expect_error(
      [] {
        recur::LSTMCell(lstm_cfg(), filled({kIn, 4 * kU}), filled({kU, 3 * kU}), filled({4 * kU}));
      },
      Want::invalid, {"recurrent_kernel", "recurrent kernel"}, "LSTM recurrent_kernel (u, 3u)");
  expect_error(
      [] {
        recur::GRUCell(gru_cfg(false), filled({kIn, 3 * kU}), filled({4 * kU}), filled({3 * kU}));
      },
      Want::invalid, {"recurrent_kernel", "recurrent kernel"}, "GRU recurrent_kernel rank 1");
  expect_error(
      [] {
        recur::SimpleRNNCell(simple_cfg(), filled({kIn, kU}), filled({kU, kU + 2}), filled({kU}));
      },
      Want::invalid, {"recurrent_kernel", "recurrent kernel"},
      "SimpleRNN recurrent_kernel (u, u+2)");
}

TEST(BadInput, BiasShape) {
  expect_error(
      [] {
        recur::LSTMCell(lstm_cfg(), filled({kIn, 4 * kU}), filled({kU, 4 * kU}),
                        filled({4 * kU + 1}));
      },
      Want::invalid, {"bias"}, "LSTM bias (4u+1)");
  expect_error(
      [] {
        recur::LSTMCell(lstm_cfg(), filled({kIn, 4 * kU}), filled({kU, 4 * kU}), filled({kU}));
      },
      Want::invalid, {"bias"}, "LSTM bias (u)");
  expect_error(
      [] {
        recur::LSTMCell(lstm_cfg(), filled({kIn, 4 * kU}), filled({kU, 4 * kU}),
                        filled({2, 4 * kU}));
      },
      Want::invalid, {"bias"}, "LSTM bias (2, 4u)");
  // GRU reset_after=True needs (2, 3u): input row + recurrent row (spec §1).
  expect_error(
      [] {
        recur::GRUCell(gru_cfg(true), filled({kIn, 3 * kU}), filled({kU, 3 * kU}),
                       filled({3 * kU}));
      },
      Want::invalid, {"bias"}, "GRU reset_after bias (3u)");
  expect_error(
      [] {
        recur::GRUCell(gru_cfg(true), filled({kIn, 3 * kU}), filled({kU, 3 * kU}),
                       filled({6 * kU}));
      },
      Want::invalid, {"bias"}, "GRU reset_after bias flat (6u)");
  expect_error(
      [] {
        recur::GRUCell(gru_cfg(true), filled({kIn, 3 * kU}), filled({kU, 3 * kU}),
                       filled({2, 3 * kU + 1}));
      },
      Want::invalid, {"bias"}, "GRU reset_after bias (2, 3u+1)");
  expect_error(
      [] {
        recur::GRUCell(gru_cfg(true), filled({kIn, 3 * kU}), filled({kU, 3 * kU}),
                       filled({3, 3 * kU}));
      },
      Want::invalid, {"bias"}, "GRU reset_after bias (3, 3u)");
  // reset_after=False: (3u,) only.
  expect_error(
      [] {
        recur::GRUCell(gru_cfg(false), filled({kIn, 3 * kU}), filled({kU, 3 * kU}),
                       filled({2, 3 * kU}));
      },
      Want::invalid, {"bias"}, "GRU reset_before bias (2, 3u)");
  expect_error(
      [] {
        recur::SimpleRNNCell(simple_cfg(), filled({kIn, kU}), filled({kU, kU}), filled({kU + 1}));
      },
      Want::invalid, {"bias"}, "SimpleRNN bias (u+1)");
}

TEST(BadInput, BiasPresenceMustMatchUseBias) {
  expect_error(
      [] {
        recur::LSTMCell(lstm_cfg(kU, false), filled({kIn, 4 * kU}), filled({kU, 4 * kU}),
                        filled({4 * kU}));
      },
      Want::invalid, {"bias"}, "LSTM bias with use_bias=false");
  expect_error(
      [] {
        recur::LSTMCell(lstm_cfg(kU, true), filled({kIn, 4 * kU}), filled({kU, 4 * kU}),
                        std::nullopt);
      },
      Want::invalid, {"bias"}, "LSTM no bias with use_bias=true");
  expect_error(
      [] {
        recur::GRUCell(gru_cfg(true, false), filled({kIn, 3 * kU}), filled({kU, 3 * kU}),
                       filled({2, 3 * kU}));
      },
      Want::invalid, {"bias"}, "GRU bias with use_bias=false");
  expect_error(
      [] {
        recur::GRUCell(gru_cfg(true, true), filled({kIn, 3 * kU}), filled({kU, 3 * kU}),
                       std::nullopt);
      },
      Want::invalid, {"bias"}, "GRU no bias with use_bias=true");
  expect_error(
      [] {
        recur::SimpleRNNCell(simple_cfg(kU, false), filled({kIn, kU}), filled({kU, kU}),
                             filled({kU}));
      },
      Want::invalid, {"bias"}, "SimpleRNN bias with use_bias=false");
  expect_error(
      [] {
        recur::SimpleRNNCell(simple_cfg(kU, true), filled({kIn, kU}), filled({kU, kU}),
                             std::nullopt);
      },
      Want::invalid, {"bias"}, "SimpleRNN no bias with use_bias=true");
  // The valid forms construct.
  EXPECT_NO_THROW(
      recur::LSTMCell(lstm_cfg(kU, false), filled({kIn, 4 * kU}), filled({kU, 4 * kU})));
  EXPECT_NO_THROW(recur::GRUCell(gru_cfg(false), filled({kIn, 3 * kU}), filled({kU, 3 * kU}),
                                 filled({3 * kU})));
  EXPECT_NO_THROW(recur::GRUCell(gru_cfg(true), filled({kIn, 3 * kU}), filled({kU, 3 * kU}),
                                 filled({2, 3 * kU})));
}

TEST(BadInput, UnknownActivationName) {
  for (const char* name : {"tanhh", "relu7", "no_such_activation"}) {
    expect_error([&] { (void)recur::activation_from_name(name); }, Want::unsupported, {name},
                 std::string("activation ") + name);
  }
}

TEST(BadInput, UnknownMergeMode) {
  expect_error([] { (void)recur::merge_mode_from_name("bogus_merge"); }, Want::either,
               {"bogus_merge"}, "merge_mode bogus_merge");
}

TEST(BadInput, StackedCellsMustChain) {
  expect_error([] { recur::StackedRNNCells(std::vector<std::shared_ptr<const recur::Cell>>{}); },
               Want::invalid, {"cell", "empty"}, "no cells");
  // Cell 1 expects 3 inputs but cell 0 outputs 4.
  const std::vector<std::shared_ptr<const recur::Cell>> cells = {good_lstm(), good_lstm(kIn)};
  expect_error([&] { recur::StackedRNNCells s(cells); }, Want::invalid, {"input", "cell", "size"},
               "cell 1 input != cell 0 output");
}

TEST(BadInput, TensorAndMaskConstruction) {
  expect_error(
      [] {
        Tensor({2, 3}, std::vector<float>(5));
      },
      Want::invalid, {"value", "size", "shape", "element"}, "Tensor values/shape mismatch");
  expect_error([] { recur::Mask(2, 3, std::vector<uint8_t>(5)); }, Want::invalid,
               {"mask", "value", "size", "shape"}, "Mask values/shape mismatch");
  expect_error(
      [] {
        (void)Tensor({2, 3}).dim(2);
      },
      Want::invalid, {"dim", "rank", "axis"}, "dim out of range");
}

// ------------------------------------------------------------------ layer calls

TEST(BadInput, InputFeatureSizeAndRank) {
  recur::RNN layer = good_layer();
  expect_error(
      [&] {
        layer.call(filled({kB, kT, kIn + 1}));
      },
      Want::invalid, {"input", "feature"}, "feature size in+1");
  expect_error(
      [&] {
        layer.call(filled({kB, kT}));
      },
      Want::invalid, {"rank", "input"}, "rank 2 input");
  expect_error(
      [&] {
        layer.call(filled({kB, kT, kIn, 1}));
      },
      Want::invalid, {"rank", "input"}, "rank 4 input");
  expect_error(
      [&] {
        (void)layer.run(filled({kB, kT, kIn - 1}));
      },
      Want::invalid, {"input", "feature"}, "run(): feature size in-1");
  // Fused op directly.
  expect_error(
      [&] {
        (void)recur::ops::lstm(*good_lstm(), filled({kB, kT, kIn + 2}), {});
      },
      Want::invalid, {"input", "feature"}, "ops::lstm feature size");
}

TEST(BadInput, MaskShape) {
  recur::RNN layer = good_layer();
  const Tensor x = filled({kB, kT, kIn});
  const recur::Mask more_batch(kB + 1, kT), more_time(kB, kT + 1), less_time(kB, kT - 1);
  expect_error([&] { layer.call(x, &more_batch); }, Want::invalid, {"mask"}, "mask (B+1, T)");
  expect_error([&] { layer.call(x, &more_time); }, Want::invalid, {"mask"}, "mask (B, T+1)");
  expect_error([&] { layer.call(x, &less_time); }, Want::invalid, {"mask"}, "mask (B, T-1)");
  recur::ops::RnnArgs a;
  a.mask = &more_time;
  const auto cell = good_lstm();
  const std::vector<Tensor> init = {Tensor({kB, kU}), Tensor({kB, kU})};
  expect_error(
      [&] {
        (void)recur::ops::rnn(
            [&](const Tensor& xt, std::span<const Tensor> st, std::span<const Tensor>, Tensor& out,
                std::span<Tensor> ns) { cell->step(xt, st, out, ns); },
            x, init, a);
      },
      Want::invalid, {"mask"}, "ops::rnn mask (B, T+1)");
  recur::ops::SequenceArgs sa;
  sa.mask = &more_batch;
  expect_error([&] { (void)recur::ops::lstm(*cell, x, init, sa); }, Want::invalid, {"mask"},
               "ops::lstm mask (B+1, T)");
}

TEST(BadInput, InitialStateCountAndShape) {
  recur::RNN layer = good_layer();
  const Tensor x = filled({kB, kT, kIn});
  const std::vector<Tensor> one = {Tensor({kB, kU})};
  const std::vector<Tensor> three = {Tensor({kB, kU}), Tensor({kB, kU}), Tensor({kB, kU})};
  const std::vector<Tensor> wide = {Tensor({kB, kU}), Tensor({kB, kU + 1})};
  const std::vector<Tensor> batch = {Tensor({kB + 1, kU}), Tensor({kB + 1, kU})};
  const std::vector<Tensor> rank1 = {Tensor({kU}), Tensor({kU})};
  expect_error([&] { layer.call(x, nullptr, one); }, Want::invalid, {"state"},
               "LSTM given 1 state");
  expect_error([&] { layer.call(x, nullptr, three); }, Want::invalid, {"state"},
               "LSTM given 3 states");
  expect_error([&] { layer.call(x, nullptr, wide); }, Want::invalid, {"state"}, "c state (B, u+1)");
  expect_error([&] { layer.call(x, nullptr, batch); }, Want::invalid, {"state"}, "states (B+1, u)");
  expect_error([&] { layer.call(x, nullptr, rank1); }, Want::invalid, {"state"}, "states rank 1");
  expect_error([&] { (void)recur::ops::lstm(*good_lstm(), x, one); }, Want::invalid, {"state"},
               "ops::lstm given 1 state");
  expect_error([&] { (void)recur::ops::lstm(*good_lstm(), x, wide); }, Want::invalid, {"state"},
               "ops::lstm state (B, u+1)");
  // The generic loop cannot know the cell's state sizes, but the batch must match the inputs.
  const auto cell = good_lstm();
  expect_error(
      [&] {
        (void)recur::ops::rnn(
            [&](const Tensor& xt, std::span<const Tensor> st, std::span<const Tensor>, Tensor& out,
                std::span<Tensor> ns) { cell->step(xt, st, out, ns); },
            x, batch);
      },
      Want::invalid, {"state"}, "ops::rnn states (B+1, u)");
}

TEST(BadInput, OpsRnnArguments) {
  const auto cell = good_lstm();
  const recur::ops::StepFunction step = [&](const Tensor& xt, std::span<const Tensor> st,
                                            std::span<const Tensor>, Tensor& out,
                                            std::span<Tensor> ns) { cell->step(xt, st, out, ns); };
  const std::vector<Tensor> init = {Tensor({kB, kU}), Tensor({kB, kU})};
  expect_error(
      [&] {
        (void)recur::ops::rnn(step, filled({kB, kIn}), init);
      },
      Want::invalid, {"rank", "input"}, "ops::rnn rank 2 input");
  const std::vector<size_t> lengths = {kT};  // one length for two samples
  recur::ops::RnnArgs a;
  a.input_length = lengths;
  expect_error(
      [&] {
        (void)recur::ops::rnn(step, filled({kB, kT, kIn}), init, a);
      },
      Want::invalid, {"input_length", "length"}, "ops::rnn input_length count");
}

TEST(BadInput, CellStepShapes) {
  const auto cell = good_lstm();
  Tensor out;
  std::vector<Tensor> ns(2);
  const std::vector<Tensor> st = {Tensor({kB, kU}), Tensor({kB, kU})};
  expect_error(
      [&] {
        cell->step(filled({kB, kIn + 1}), st, out, ns);
      },
      Want::invalid, {"input", "feature"}, "Cell::step x (B, in+1)");
  const std::vector<Tensor> one = {Tensor({kB, kU})};
  std::vector<Tensor> ns1(1);
  expect_error(
      [&] {
        cell->step(filled({kB, kIn}), one, out, ns1);
      },
      Want::invalid, {"state"}, "Cell::step with 1 state");
  const std::vector<Tensor> bad_batch = {Tensor({kB + 1, kU}), Tensor({kB + 1, kU})};
  expect_error(
      [&] {
        cell->step(filled({kB, kIn}), bad_batch, out, ns);
      },
      Want::invalid, {"state"}, "Cell::step states (B+1, u)");
}

TEST(BadInput, StatefulBatchSizeIsFixed) {
  recur::RNNOptions o;
  o.stateful = true;
  recur::RNN layer = good_layer(o);
  layer.call(filled({kB, kT, kIn}));
  expect_error(
      [&] {
        layer.call(filled({kB + 1, kT, kIn}));
      },
      Want::invalid, {"batch"}, "stateful call with another batch size");
  layer.reset_state();  // reset keeps the batch size (spec §4.4)
  expect_error(
      [&] {
        layer.call(filled({kB + 1, kT, kIn}));
      },
      Want::invalid, {"batch"}, "stateful call with another batch size after reset_state");
  EXPECT_NO_THROW(layer.call(filled({kB, kT + 3, kIn}))) << "another T is fine";
  expect_error(
      [&] {
        layer.set_states({Tensor({kB, kU})});
      },
      Want::invalid, {"state"}, "set_states with 1 of 2 states");
  expect_error(
      [&] {
        layer.set_states({Tensor({kB, kU}), Tensor({kB, kU + 1})});
      },
      Want::invalid, {"state"}, "set_states (B, u+1)");
}

TEST(BadInput, BidirectionalConfiguration) {
  recur::RNNOptions fo;
  fo.return_sequences = true;
  const recur::RNN fwd(good_lstm(), fo);
  recur::RNNOptions same = fo;  // backward must differ in go_backwards
  const recur::RNN b_same(good_lstm(), same);
  expect_error([&] { recur::Bidirectional bi(fwd, &b_same); }, Want::invalid,
               {"go_backwards", "backward"}, "backward with the same go_backwards");
  recur::RNNOptions bo = fo;
  bo.go_backwards = true;
  bo.return_sequences = false;
  const recur::RNN b_seq(good_lstm(), bo);
  expect_error([&] { recur::Bidirectional bi(fwd, &b_seq); }, Want::invalid, {"return_sequences"},
               "return_sequences differ");
  bo.return_sequences = true;
  bo.return_state = true;
  const recur::RNN b_state(good_lstm(), bo);
  expect_error([&] { recur::Bidirectional bi(fwd, &b_state); }, Want::invalid, {"return_state"},
               "return_state differ");
  bo.return_state = false;
  bo.stateful = true;
  const recur::RNN b_stateful(good_lstm(), bo);
  expect_error([&] { recur::Bidirectional bi(fwd, &b_stateful); }, Want::invalid, {"stateful"},
               "stateful differ");

  // Odd or wrong initial_state count: halves cannot be split (Keras splits flat halves).
  recur::Bidirectional bi(fwd);
  const Tensor x = filled({kB, kT, kIn});
  const std::vector<Tensor> three = {Tensor({kB, kU}), Tensor({kB, kU}), Tensor({kB, kU})};
  expect_error([&] { bi.call(x, nullptr, three); }, Want::invalid, {"state"}, "3 initial states");
  const std::vector<Tensor> two = {Tensor({kB, kU}), Tensor({kB, kU})};
  expect_error([&] { bi.call(x, nullptr, two); }, Want::invalid, {"state"},
               "2 initial states for 2 LSTMs");
  expect_error(
      [&] {
        bi.call(filled({kB, kT, kIn + 1}));
      },
      Want::invalid, {"input", "feature"}, "Bidirectional feature size");
  const recur::Mask bad(kB, kT + 1);
  expect_error([&] { bi.call(x, &bad); }, Want::invalid, {"mask"}, "Bidirectional mask shape");
  // Backward layer built for another input size.
  recur::RNNOptions bo2 = fo;
  bo2.go_backwards = true;
  const recur::RNN b_other(good_lstm(kIn + 1), bo2);
  expect_error(
      [&] {
        recur::Bidirectional b2(fwd, &b_other);
        b2.call(x);
      },
      Want::invalid, {"input", "feature"}, "backward layer with another input size");
}

// ------------------------------------------------------------------ NaN

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();

struct NanLayer {
  const char* name;
  std::function<recur::RNN(recur::RNNOptions)> make;
};

std::vector<NanLayer> nan_layers() {
  return {
      {"LSTM", [](recur::RNNOptions o) { return recur::RNN(good_lstm(), o); }},
      {"GRU",
       [](recur::RNNOptions o) {
         return recur::RNN(
             std::make_shared<recur::GRUCell>(gru_cfg(true), filled({kIn, 3 * kU}, -0.2f),
                                              filled({kU, 3 * kU}, 0.3f), filled({2, 3 * kU})),
             o);
       }},
      {"SimpleRNN",
       [](recur::RNNOptions o) {
         return recur::RNN(
             std::make_shared<recur::SimpleRNNCell>(simple_cfg(), filled({kIn, kU}, -0.1f),
                                                    filled({kU, kU}, 0.2f), filled({kU})),
             o);
       }},
  };
}

// A NaN in one sample's input makes that sample NaN from that step on; the other samples are
// untouched (batch rows are independent), and nothing throws. Fused (no mask) and loop (holes).
TEST(NanInput, PropagatesOnlyWithinItsSample) {
  const size_t B = 3, T = 6, bad_b = 1, bad_t = 2;
  for (const NanLayer& nl : nan_layers())
    for (bool holes : {false, true}) {
      SCOPED_TRACE(std::string(nl.name) + (holes ? " mask with holes" : " no mask"));
      recur::RNNOptions o;
      o.return_sequences = true;
      o.return_state = true;
      recur::RNN layer = nl.make(o);
      Tensor x = filled({B, T, kIn});
      const Tensor clean = x;
      x[(bad_b * T + bad_t) * kIn + 1] = kNaN;
      recur::Mask m(B, T, true);
      if (holes) {
        m.set(0, 1, false);
        m.set(2, 4, false);
      }
      std::vector<Tensor> got, ref;
      ASSERT_NO_THROW(got = layer.call(x, holes ? &m : nullptr));
      ASSERT_NO_THROW(ref = layer.call(clean, holes ? &m : nullptr));
      const Tensor& y = got[0];
      ASSERT_EQ(y.shape(), (Shape{B, T, kU}));
      for (size_t b = 0; b < B; ++b)
        for (size_t t = 0; t < T; ++t)
          for (size_t j = 0; j < kU; ++j) {
            const size_t i = (b * T + t) * kU + j;
            if (b == bad_b && t >= bad_t) {
              EXPECT_TRUE(std::isnan(y[i])) << "b=" << b << " t=" << t << " j=" << j;
            } else {
              EXPECT_FLOAT_EQ(y[i], ref[0][i]) << "b=" << b << " t=" << t << " j=" << j;
            }
          }
      for (size_t s = 1; s < got.size(); ++s)
        for (size_t j = 0; j < kU; ++j)
          EXPECT_TRUE(std::isnan(got[s][bad_b * kU + j])) << "state " << s;
    }
}

// Keras selects with where(mask, new, old): a NaN at a masked step (cell evaluated, result
// discarded) must not leak into outputs or states. Right padding (fused path) and holes (loop).
TEST(NanInput, MaskedStepsDoNotLeakNaN) {
  const size_t B = 2, T = 6;
  for (const NanLayer& nl : nan_layers())
    for (bool back : {false, true})
      for (bool holes : {false, true}) {
        SCOPED_TRACE(std::string(nl.name) + (back ? " go_backwards" : "") +
                     (holes ? " holes" : " right-padded"));
        recur::RNNOptions o;
        o.return_sequences = true;
        o.return_state = true;
        o.go_backwards = back;
        recur::RNN layer = nl.make(o);
        recur::Mask m(B, T, true);
        if (holes) {
          m.set(0, 2, false);
        } else {
          m.set(0, 4, false);
          m.set(0, 5, false);
        }
        const Tensor clean = filled({B, T, kIn});
        Tensor x = clean;
        for (size_t t = 0; t < T; ++t)
          if (!m(0, t))
            for (size_t f = 0; f < kIn; ++f) x[(0 * T + t) * kIn + f] = kNaN;
        std::vector<Tensor> got, want;
        ASSERT_NO_THROW(got = layer.call(x, &m));
        ASSERT_NO_THROW(want = layer.call(clean, &m));
        ASSERT_EQ(got.size(), want.size());
        for (size_t k = 0; k < got.size(); ++k)
          for (size_t i = 0; i < got[k].size(); ++i) {
            EXPECT_FALSE(std::isnan(got[k][i])) << "result " << k << " element " << i;
            EXPECT_FLOAT_EQ(got[k][i], want[k][i]) << "result " << k << " element " << i;
          }
      }
}

TEST(NanInput, NanInitialStatePropagates) {
  recur::RNNOptions o;
  o.return_state = true;
  recur::RNN layer = good_layer(o);
  std::vector<Tensor> init = {Tensor({kB, kU}), Tensor({kB, kU})};
  init[1][0] = kNaN;  // c of sample 0
  std::vector<Tensor> got;
  ASSERT_NO_THROW(got = layer.call(filled({kB, kT, kIn}), nullptr, init));
  EXPECT_TRUE(std::isnan(got[0][0]));
  for (size_t j = 0; j < kU; ++j) EXPECT_FALSE(std::isnan(got[0][kU + j])) << "sample 1 j=" << j;
}

}  // namespace
