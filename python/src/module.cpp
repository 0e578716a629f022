// recur._core: the C++ library behind the Python package (python/recur). Arrays cross as
// float32 C-order numpy arrays; the Python side converts dtypes and arranges inputs. The GIL is
// released while recur loads or computes; recur's errors become the package's exceptions.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cstring>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "recur/model.hpp"
#include "recur/threads.hpp"

namespace py = pybind11;

namespace {

using FloatArray = py::array_t<float, py::array::c_style | py::array::forcecast>;
using IntArray = py::array_t<int64_t, py::array::c_style | py::array::forcecast>;

// Which exception an InvalidArgument becomes: a broken file, or a bad call.
enum class Blame { file, input };

[[noreturn]] void raise(const char* cls, const std::string& message) {
  py::object type = py::module_::import("recur._errors").attr(cls);
  PyErr_SetString(type.ptr(), message.c_str());
  throw py::error_already_set();
}

// Runs fn without the GIL and turns recur's exceptions into Python ones (with the GIL back).
template <typename Fn>
auto without_gil(Blame blame, std::optional<int> threads, Fn&& fn) {
  try {
    py::gil_scoped_release release;
    std::optional<recur::ThreadsScope> scope;
    if (threads) scope.emplace(*threads);
    return fn();
  } catch (const recur::Unsupported& e) {
    raise("UnsupportedModelError", e.what());
  } catch (const recur::InvalidArgument& e) {
    raise(blame == Blame::file ? "InvalidModelError" : "InvalidInputError", e.what());
  } catch (const recur::Error& e) {
    raise("Error", e.what());
  }
}

// A float32 array's values, copied once.
recur::Tensor to_tensor(std::vector<size_t> shape, const FloatArray& a) {
  recur::Tensor t = recur::Tensor::for_overwrite(std::move(shape));
  if (t.size()) std::memcpy(t.data(), a.data(), t.size() * sizeof(float));
  return t;
}

// Model inputs: int64 arrays (the Python side sends integer inputs so) keep their exact values
// for an Embedding behind an integer Input, as Tensor::from_ints; the rest cross as float32.
std::vector<recur::Tensor> to_inputs(const std::vector<py::array>& arrays) {
  std::vector<recur::Tensor> out;
  out.reserve(arrays.size());
  for (const auto& a : arrays) {
    std::vector<size_t> shape(a.shape(), a.shape() + a.ndim());
    if (a.dtype().kind() == 'i') {
      const auto ints = IntArray::ensure(a);
      out.push_back(recur::Tensor::from_ints(
          std::move(shape), std::vector<int64_t>(ints.data(), ints.data() + ints.size())));
    } else {
      out.push_back(to_tensor(std::move(shape), FloatArray::ensure(a)));
    }
  }
  return out;
}

std::vector<recur::Tensor> to_tensors(const std::vector<FloatArray>& arrays) {
  std::vector<recur::Tensor> out;
  out.reserve(arrays.size());
  for (const auto& a : arrays) {
    out.push_back(to_tensor(std::vector<size_t>(a.shape(), a.shape() + a.ndim()), a));
  }
  return out;
}

py::list to_arrays(const std::vector<recur::Tensor>& tensors) {
  py::list out;
  for (const auto& t : tensors) {
    const std::vector<py::ssize_t> shape(t.shape().begin(), t.shape().end());
    if (t.has_ints()) {  // exact integers (lookup indices, token ids): int64, as Keras' ints
      IntArray a(shape);
      if (t.size()) std::memcpy(a.mutable_data(), t.ints().data(), t.size() * sizeof(int64_t));
      out.append(std::move(a));
      continue;
    }
    FloatArray a(shape);
    if (t.size()) std::memcpy(a.mutable_data(), t.data(), t.size() * sizeof(float));
    out.append(std::move(a));
  }
  return out;
}

py::list specs(const std::vector<recur::TensorInfo>& infos) {
  py::list out;
  for (const auto& t : infos) {
    py::list shape;
    for (long d : t.shape) shape.append(d < 0 ? py::object(py::none()) : py::object(py::int_(d)));
    // Empty: recur could not tell (every tensor has at least a batch axis).
    out.append(py::make_tuple(
        t.name, t.shape.empty() ? py::object(py::none()) : py::object(py::tuple(shape))));
  }
  return out;
}

// A session used from Python: calls on one session are serialized (the GIL is not held).
struct PySession {
  std::shared_ptr<const recur::Model> model;  // keeps the model alive
  recur::Session session;
  std::mutex mutex;
};

// Session::run or Session::step on numpy arrays, serialized per session, without the GIL.
template <std::vector<recur::Tensor> (recur::Session::*Call)(const std::vector<recur::Tensor>&)>
py::list session_call(PySession& self, const std::vector<py::array>& inputs,
                      std::optional<int> threads) {
  auto in = to_inputs(inputs);
  auto out = without_gil(Blame::input, threads, [&] {
    std::lock_guard<std::mutex> lock(self.mutex);
    return (self.session.*Call)(in);
  });
  return to_arrays(out);
}

}  // namespace

PYBIND11_MODULE(_core, m) {
  m.doc() = "recur's C++ core; use the recur package instead.";

  py::class_<recur::Model, std::shared_ptr<recur::Model>>(m, "Model")
      .def_property_readonly("file", [](const recur::Model& self) { return self.info().file; })
      .def_property_readonly("format", [](const recur::Model& self) { return self.info().format; })
      .def_property_readonly("keras_version",
                             [](const recur::Model& self) { return self.info().keras_version; })
      .def_property_readonly("inputs",
                             [](const recur::Model& self) { return specs(self.inputs()); })
      .def_property_readonly("outputs",
                             [](const recur::Model& self) { return specs(self.outputs()); })
      .def_property_readonly("warnings",
                             [](const recur::Model& self) { return self.info().warnings; })
      .def_property_readonly("stateful",
                             [](const recur::Model& self) { return self.info().stateful; })
      .def_property_readonly("weight_bytes",
                             [](const recur::Model& self) { return self.info().weight_bytes; })
      .def_property_readonly("precision",
                             [](const recur::Model& self) {
                               return std::string(recur::precision_name(self.info().precision));
                             })
      .def_property_readonly("layers",
                             [](const recur::Model& self) {
                               py::list out;
                               for (const auto& l : self.info().layers) {
                                 py::dict d;
                                 d["name"] = l.name;
                                 d["class_name"] = l.class_name;
                                 d["params"] = l.params;
                                 d["path"] = l.path;
                                 d["output_shapes"] = l.output_shapes;
                                 out.append(d);
                               }
                               return out;
                             })
      .def("summary", &recur::Model::summary)
      .def("outputs_keep_time_axis", &recur::Model::outputs_keep_time_axis)
      .def(
          "predict",
          [](const recur::Model& self, const std::vector<py::array>& inputs,
             std::optional<int> threads) {
            auto in = to_inputs(inputs);
            auto out = without_gil(Blame::input, threads, [&] { return self.predict(in); });
            return to_arrays(out);
          },
          py::arg("inputs"), py::arg("threads") = py::none())
      .def(
          "session",
          [](const std::shared_ptr<recur::Model>& self, bool stream) {
            auto s = without_gil(Blame::input, std::nullopt,
                                 [&] { return stream ? self->stream() : self->session(); });
            return std::unique_ptr<PySession>(new PySession{self, std::move(s), {}});
          },
          py::arg("stream"));

  py::class_<PySession>(m, "Session")
      .def("run", &session_call<&recur::Session::run>, py::arg("inputs"),
           py::arg("threads") = py::none())
      .def("step", &session_call<&recur::Session::step>, py::arg("inputs"),
           py::arg("threads") = py::none())
      .def("reset",
           [](PySession& self) {
             without_gil(Blame::input, std::nullopt, [&] {
               std::lock_guard<std::mutex> lock(self.mutex);
               self.session.reset();
               return 0;
             });
           })
      .def("states",
           [](PySession& self) {
             auto out = without_gil(Blame::input, std::nullopt, [&] {
               std::lock_guard<std::mutex> lock(self.mutex);
               return self.session.states();
             });
             return to_arrays(out);
           })
      .def("set_states", [](PySession& self, const std::vector<FloatArray>& states) {
        auto in = to_tensors(states);
        without_gil(Blame::input, std::nullopt, [&] {
          std::lock_guard<std::mutex> lock(self.mutex);
          self.session.set_states(in);
          return 0;
        });
      });

  m.def(
      "load_model",
      [](const std::string& path, uint64_t max_weight_bytes, uint64_t max_activation_bytes,
         const std::string& precision) {
        recur::LoadOptions options;
        options.max_weight_bytes = max_weight_bytes;
        options.max_activation_bytes = max_activation_bytes;
        return without_gil(Blame::file, std::nullopt, [&] {
          options.precision = recur::parse_precision(precision);
          return std::make_shared<recur::Model>(recur::load_model(path, options));
        });
      },
      py::arg("path"), py::arg("max_weight_bytes") = 0, py::arg("max_activation_bytes") = 0,
      py::arg("precision") = "fp32");
  m.def(
      "precision_error",
      [](const recur::Model& exact, const recur::Model& approx,
         const std::vector<FloatArray>& inputs, std::optional<int> threads) {
        auto in = to_tensors(inputs);
        const recur::PrecisionError e = without_gil(
            Blame::input, threads, [&] { return recur::precision_error(exact, approx, in); });
        py::dict d;
        d["max_abs"] = e.max_abs;
        d["mean_abs"] = e.mean_abs;
        d["elements"] = e.elements;
        d["output"] = exact.outputs().empty() ? std::string() : exact.outputs()[e.output].name;
        d["output_index"] = e.output;
        d["index"] = py::tuple(py::cast(e.index));
        d["fp32"] = e.exact;
        d["value"] = e.approx;
        return d;
      },
      py::arg("exact"), py::arg("approx"), py::arg("inputs"), py::arg("threads") = py::none());
  m.def("set_num_threads", [](int n) {
    without_gil(Blame::input, std::nullopt, [&] {
      recur::set_num_threads(n);
      return 0;
    });
  });
  m.def("num_threads", &recur::num_threads);
  m.def("isa", [] {
    return without_gil(Blame::input, std::nullopt, [] { return std::string(recur::kernel_isa()); });
  });
}
