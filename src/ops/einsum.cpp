#include "ops/einsum.hpp"

#include <algorithm>
#include <cctype>

#include "recur/errors.hpp"

namespace recur::ops {

namespace {

bool is_label(char c) { return std::isalpha(static_cast<unsigned char>(c)) != 0; }

// One term: labels and at most one "..." (stored as EinsumSpec::ellipsis).
std::string parse_term(const std::string& t, const std::string& where) {
  std::string out;
  for (size_t i = 0; i < t.size(); ++i) {
    if (is_label(t[i])) {
      out += t[i];
    } else if (t.compare(i, 3, "...") == 0 && out.find(EinsumSpec::ellipsis) == std::string::npos) {
      out += EinsumSpec::ellipsis;
      i += 2;
    } else {
      throw InvalidArgument(where + ": einsum term '" + t.substr(0, 40) + "' is malformed");
    }
  }
  return out;
}

bool has_ellipsis(const std::string& term) {
  return term.find(EinsumSpec::ellipsis) != std::string::npos;
}

// The axes of every operand and of the output as variable ids: the broadcast "..." dimensions
// are 0..E-1 (aligned from the right), labels E and up.
struct Axes {
  size_t ellipsis_rank = 0;
  std::vector<std::vector<size_t>> inputs;
  std::vector<size_t> output;
  size_t variables = 0;
};

Axes resolve_axes(const EinsumSpec& spec, const std::vector<size_t>& ranks,
                  const std::string& where) {
  Axes a;
  std::vector<size_t> own(ranks.size(), 0);  // each operand's "..." rank
  for (size_t k = 0; k < ranks.size(); ++k) {
    const std::string& t = spec.inputs[k];
    const size_t named = t.size() - (has_ellipsis(t) ? 1 : 0);
    if (ranks[k] < named || (!has_ellipsis(t) && ranks[k] != named)) {
      throw InvalidArgument(where + ": einsum operand " + std::to_string(k) + " has rank " +
                            std::to_string(ranks[k]) + ", its term '" + t + "' " +
                            std::to_string(named) + " labels");
    }
    own[k] = ranks[k] - named;
    a.ellipsis_rank = std::max(a.ellipsis_rank, own[k]);
  }
  const size_t e = a.ellipsis_rank;
  auto label_id = [e](char c) {  // 52 letters after the ellipsis dimensions
    return e + static_cast<size_t>(std::islower(static_cast<unsigned char>(c)) ? c - 'a'
                                                                               : 26 + c - 'A');
  };
  a.variables = e + 52;
  for (size_t k = 0; k < ranks.size(); ++k) {
    std::vector<size_t> ids;
    for (char c : spec.inputs[k]) {
      if (c != EinsumSpec::ellipsis) {
        ids.push_back(label_id(c));
        continue;
      }
      for (size_t j = e - own[k]; j < e; ++j) ids.push_back(j);
    }
    a.inputs.push_back(std::move(ids));
  }
  for (char c : spec.output) {
    if (c != EinsumSpec::ellipsis) {
      a.output.push_back(label_id(c));
      continue;
    }
    for (size_t j = 0; j < e; ++j) a.output.push_back(j);
  }
  return a;
}

}  // namespace

EinsumSpec parse_einsum(const std::string& equation, size_t operands, const std::string& where) {
  std::string eq;
  for (char c : equation) {
    if (c != ' ') eq += c;
  }
  const size_t arrow = eq.find("->");
  if (arrow != std::string::npos && eq.find("->", arrow + 2) != std::string::npos)
    throw InvalidArgument(where + ": einsum equation '" + eq.substr(0, 60) + "' has two '->'");
  const std::string lhs = eq.substr(0, arrow);
  EinsumSpec s;
  for (size_t from = 0;;) {
    const size_t comma = lhs.find(',', from);
    s.inputs.push_back(parse_term(lhs.substr(from, comma - from), where));
    if (comma == std::string::npos) break;
    from = comma + 1;
  }
  if (s.inputs.size() != operands) {
    throw InvalidArgument(where + ": einsum equation '" + eq.substr(0, 60) + "' has " +
                          std::to_string(s.inputs.size()) + " terms for " +
                          std::to_string(operands) + " operands");
  }
  const bool ellipsis = std::any_of(s.inputs.begin(), s.inputs.end(), has_ellipsis);
  std::string used;  // every label occurrence, in order
  for (const auto& t : s.inputs) {
    for (char c : t) {
      if (c != EinsumSpec::ellipsis) used += c;
    }
  }
  if (arrow != std::string::npos) {
    s.output = parse_term(eq.substr(arrow + 2), where);
    for (size_t i = 0; i < s.output.size(); ++i) {
      const char c = s.output[i];
      if (c == EinsumSpec::ellipsis) continue;
      if (s.output.find(c, i + 1) != std::string::npos || used.find(c) == std::string::npos) {
        throw InvalidArgument(where + ": einsum output label '" + std::string(1, c) +
                              "' is repeated or in no input");
      }
    }
    if (ellipsis && !has_ellipsis(s.output))
      throw Unsupported(where + ": einsum summing over the '...' dimensions");
    return s;
  }
  // Implicit output: numpy sorts the labels used once; Keras' TensorFlow backend renames the
  // labels a, b, c... in order of first use before TensorFlow sorts them.
  std::string once;
  for (char c : used) {
    if (std::count(used.begin(), used.end(), c) == 1) once += c;
  }
  std::string sorted = once;
  std::sort(sorted.begin(), sorted.end());
  const bool mixed_case =
      std::any_of(once.begin(), once.end(), [](char c) { return std::isupper(c) != 0; }) &&
      std::any_of(once.begin(), once.end(), [](char c) { return std::islower(c) != 0; });
  if (sorted != once || mixed_case) {
    throw Unsupported(where + ": einsum equation '" + eq.substr(0, 60) +
                      "' without '->': numpy orders its output '" + sorted +
                      "', Keras' TensorFlow backend '" + once + "'; write the output explicitly");
  }
  s.output = (ellipsis ? std::string(1, EinsumSpec::ellipsis) : "") + sorted;
  return s;
}

bool einsum_keeps_batch(const EinsumSpec& spec, const std::vector<size_t>& ranks,
                        const std::vector<bool>& batched) {
  const Axes a = resolve_axes(spec, ranks, "einsum");
  if (a.output.empty()) return false;
  for (size_t k = 0; k < ranks.size(); ++k) {
    const auto& in = a.inputs[k];
    if (batched[k] ? in.empty() || in[0] != a.output[0]
                   : std::find(in.begin(), in.end(), a.output[0]) != in.end())
      return false;
  }
  return true;
}

Tensor einsum(const EinsumSpec& spec, const std::vector<const Tensor*>& operands, size_t max_elems,
              double max_terms, const std::string& where) {
  const size_t n = operands.size();
  std::vector<size_t> ranks(n);
  for (size_t k = 0; k < n; ++k) ranks[k] = operands[k]->rank();
  const Axes a = resolve_axes(spec, ranks, where);
  // The size of every variable: labels equal wherever they occur, "..." broadcast as numpy.
  constexpr size_t unset = SIZE_MAX;
  std::vector<size_t> size(a.variables, unset);
  for (size_t j = 0; j < a.ellipsis_rank; ++j) size[j] = 1;
  for (size_t k = 0; k < n; ++k) {
    for (size_t d = 0; d < ranks[k]; ++d) {
      const size_t v = a.inputs[k][d], m = operands[k]->dim(d);
      if (v < a.ellipsis_rank) {
        if (m != 1 && size[v] != 1 && size[v] != m)
          throw InvalidArgument(where + ": einsum '...' dimensions do not broadcast");
        if (m != 1) size[v] = m;
      } else if (size[v] == unset) {
        size[v] = m;
      } else if (size[v] != m) {
        throw InvalidArgument(where + ": an einsum label has sizes " + std::to_string(size[v]) +
                              " and " + std::to_string(m));
      }
    }
  }
  std::vector<size_t> shape;
  for (size_t v : a.output) shape.push_back(size[v]);
  if (checked_size(shape, "einsum output") > max_elems)
    throw InvalidArgument(where + ": the einsum output would exceed max_activation_bytes");
  // Loop variables: the output's axes, then the summed labels; each operand's stride for each
  // (0 where it lacks the variable or broadcasts it).
  std::vector<size_t> vars = a.output;
  std::vector<bool> in_output(a.variables, false);
  for (size_t v : a.output) in_output[v] = true;
  for (size_t v = a.ellipsis_rank; v < a.variables; ++v) {
    if (size[v] != unset && !in_output[v]) vars.push_back(v);
  }
  double terms = static_cast<double>(n);
  for (size_t v : vars) terms *= static_cast<double>(size[v]);
  if (terms > max_terms) {
    throw InvalidArgument(where + ": the einsum would take " + std::to_string(terms) +
                          " products, more than " + std::to_string(max_terms));
  }
  std::vector<std::vector<size_t>> stride(n, std::vector<size_t>(vars.size(), 0));
  for (size_t k = 0; k < n; ++k) {
    size_t st = 1;
    for (size_t d = ranks[k]; d-- > 0;) {
      const size_t v = a.inputs[k][d], m = operands[k]->dim(d);
      const auto at = static_cast<size_t>(std::find(vars.begin(), vars.end(), v) - vars.begin());
      if (m != 1 || size[v] == 1) stride[k][at] += st;  // a repeated label: the diagonal
      st *= m;
    }
  }
  Tensor out(shape);
  const size_t nv = vars.size(), no = a.output.size();
  if (out.size() == 0) return out;
  std::vector<size_t> idx(nv, 0), off(n, 0);
  float* dst = out.data();
  bool empty_sum = false;  // a summed label of size 0: every output is 0
  for (size_t v = no; v < nv; ++v) empty_sum = empty_sum || size[vars[v]] == 0;
  for (size_t o = 0; o < out.size(); ++o) {
    double acc = 0.0;
    while (!empty_sum) {
      double p = 1.0;
      for (size_t k = 0; k < n; ++k) p *= static_cast<double>(operands[k]->data()[off[k]]);
      acc += p;
      size_t v = nv;  // the next summed position
      while (v-- > no) {
        for (size_t k = 0; k < n; ++k) off[k] += stride[k][v];
        if (++idx[v] < size[vars[v]]) break;
        for (size_t k = 0; k < n; ++k) off[k] -= stride[k][v] * size[vars[v]];
        idx[v] = 0;
      }
      if (v == SIZE_MAX || v < no) break;
    }
    dst[o] = static_cast<float>(acc);
    for (size_t v = no; v-- > 0;) {  // the next output position
      for (size_t k = 0; k < n; ++k) off[k] += stride[k][v];
      if (++idx[v] < size[vars[v]]) break;
      for (size_t k = 0; k < n; ++k) off[k] -= stride[k][v] * size[vars[v]];
      idx[v] = 0;
    }
  }
  return out;
}

}  // namespace recur::ops
