// Loads a Keras model and forecasts with it: whole windows with predict(), then the same
// series one sample at a time with a streaming session (the state stays in the session).
#include <cmath>
#include <cstdio>
#include <recur/recur.hpp>

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: forecast MODEL.keras (e.g. examples/demo/model.keras)\n");
    return 2;
  }
  try {
    recur::Model model = recur::load_model(argv[1]);
    const auto& in = model.inputs()[0];
    std::printf("%s: input %s, %zu layers\n", argv[1], in.name.c_str(), model.info().layers.size());
    const size_t T = in.shape.size() > 1 && in.shape[1] > 0 ? static_cast<size_t>(in.shape[1]) : 24;
    recur::Tensor x({1, T, 1});
    for (size_t t = 0; t < T; ++t)
      x[t] = static_cast<float>(std::sin(2 * M_PI * static_cast<double>(t) / 25));
    std::vector<recur::Tensor> y = model.predict({x});
    std::printf("next value after a %zu-sample sine window: %.4f (true %.4f)\n", T, y[0][0],
                std::sin(2 * M_PI * static_cast<double>(T) / 25));
    recur::Session s = model.stream();
    recur::Tensor xt({1, 1});
    std::vector<recur::Tensor> yt;
    for (size_t t = 0; t < T; ++t) {
      xt[0] = x[t];
      yt = s.step({xt});
    }
    std::printf("the same, fed one sample at a time: %.4f\n", yt[0][0]);
  } catch (const recur::Error& e) {
    std::fprintf(stderr, "forecast: %s\n", e.what());
    return 1;
  }
  return 0;
}
