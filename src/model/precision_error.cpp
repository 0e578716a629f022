// recur::precision_error: an opt-in precision's difference from fp32, measured, never assumed.
#include <cmath>
#include <limits>
#include <string>

#include "recur/model.hpp"

namespace recur {

PrecisionError precision_error(const Model& exact, const Model& approx,
                               const std::vector<Tensor>& inputs) {
  const std::vector<Tensor> a = exact.predict(inputs), b = approx.predict(inputs);
  if (a.size() != b.size()) {
    throw InvalidArgument(approx.info().file + ": the two models give " + std::to_string(a.size()) +
                          " and " + std::to_string(b.size()) + " outputs");
  }
  PrecisionError e;
  double sum = 0.0;
  bool first = true;
  for (size_t o = 0; o < a.size(); ++o) {
    if (a[o].shape() != b[o].shape()) {
      throw InvalidArgument(approx.info().file + ": output " + std::to_string(o) + " has shape " +
                            a[o].shape_str() + " in one model and " + b[o].shape_str() +
                            " in the other");
    }
    for (size_t i = 0; i < a[o].size(); ++i) {
      const float x = a[o][i], y = b[o][i];
      double d = std::fabs(double(x) - double(y));
      if (std::isnan(d))
        d = std::isnan(x) && std::isnan(y) ? 0.0 : std::numeric_limits<double>::infinity();
      sum += d;
      if (first || d > e.max_abs) {
        first = false;
        e.max_abs = d;
        e.output = o;
        e.index.assign(a[o].rank(), 0);
        size_t rest = i;
        for (size_t k = a[o].rank(); k-- > 0;) {
          e.index[k] = rest % a[o].dim(k);
          rest /= a[o].dim(k);
        }
        e.exact = x;
        e.approx = y;
      }
      ++e.elements;
    }
  }
  e.mean_abs = e.elements ? sum / double(e.elements) : 0.0;
  return e;
}

}  // namespace recur
