// Whether a model can stream exactly: every edge is checked with the layers' own rules
// (Layer::stream_rule). A stream feeds the sequence in chunks along axis 1, so a value is either
// a sequence (each chunk of it exact) or computed from the steps seen so far (a final state),
// which is exact only once the last chunk is in. Such a value may reach an output or other
// final values, but never something that continues step by step (a decoder's initial state, a
// merge with a sequence): that is refused, naming the edge.
#include <map>
#include <string>

#include "model/graph.hpp"

namespace recur::model {

namespace {

constexpr size_t npos = static_cast<size_t>(-1);  // as graph.cpp: an unused output or mask

[[noreturn]] void refuse(const std::string& what) { throw Unsupported(what); }

}  // namespace

std::vector<Flow> Graph::stream_flow(const std::vector<Flow>& in) const {
  std::vector<Flow> flows(n_values_);
  for (size_t i = 0; i < input_values_.size() && i < in.size(); ++i)
    flows[input_values_[i]] = in[i];
  // A layer keeps one state per session: called at two places, the calls would share it.
  std::map<size_t, size_t> calls;
  for (const auto& n : nodes_) ++calls[n.layer];
  for (const auto& n : nodes_) {
    const Layer& l = *layers_[n.layer];
    if (calls[n.layer] > 1 && l.uses_session_state()) {
      refuse(l.label() + " is called at " + std::to_string(calls[n.layer]) +
             " places, and a stream keeps one state per layer");
    }
    std::vector<Flow> args;
    for (size_t v : n.inputs) args.push_back(flows[v]);
    for (size_t v : n.masks) {
      if (v != npos && !flows[v].seq)
        refuse(l.label() + " takes a mask from " + flow_name(flows[v]));
    }
    std::vector<Flow> out = l.stream_flow(args, n.outputs.size());
    for (size_t t = 0; t < n.outputs.size() && t < out.size(); ++t) {
      if (n.outputs[t] == npos) continue;
      Flow& f = flows[n.outputs[t]];
      f = std::move(out[t]);
      f.src = l.label() + (n.outputs.size() > 1 ? " output " + std::to_string(t) : "");
      if (!f.seq && (f.origin.empty() || f.origin.rfind("its ", 0) == 0)) {
        f.origin = f.src + (f.origin.empty() ? "" : ", " + f.origin);
      }
    }
  }
  std::vector<Flow> res;
  for (size_t v : output_values_) res.push_back(flows[v]);
  return res;
}

Graph::StreamPlan Graph::stream_plan() const {
  std::vector<Flow> in;
  for (const auto& s : inputs_) {
    Flow f;
    f.time_last = s.shape.size() <= 2;  // (batch, time): unknown ranks count as this too
    f.src = "input '" + s.name + "'";
    in.push_back(f);
  }
  StreamPlan plan;
  try {
    for (const Flow& f : stream_flow(in)) plan.out_seq.push_back(f.seq);
  } catch (const Unsupported& e) {
    plan.blocker = e.what();
    plan.out_seq.assign(outputs_.size(), false);
  }
  return plan;
}

bool Graph::uses_session_state() const {
  for (const auto& l : layers_) {
    if (l->uses_session_state()) return true;
  }
  return false;
}

}  // namespace recur::model
