// The default stream rule of a layer applied to its inputs' flows (Layer::stream_flow).
#include "layers/layer.hpp"

namespace recur::layers {

namespace {
[[noreturn]] void refuse(const std::string& what) { throw Unsupported(what); }
}  // namespace

std::string flow_name(const Flow& f) {
  if (f.seq || f.origin.rfind(f.src, 0) == 0) return f.seq ? f.src : f.origin;
  return f.src + ", computed from " + f.origin;
}

std::vector<Flow> Layer::stream_flow(const std::vector<Flow>& in, size_t n_out) const {
  const StreamRule rule = stream_rule();
  const bool carries = rule.kind == Streaming::recurrent || rule.kind == Streaming::window;
  const Flow* seq = nullptr;
  const Flow* fin = nullptr;
  for (const Flow& f : in) {
    if (f.seq && !seq) seq = &f;
    if (!f.seq && !fin) fin = &f;
  }
  if (carries) {
    if (in.empty()) refuse(label() + " has no input");
    if (!in[0].seq) {
      refuse(label() + " reads, as its sequence, " + flow_name(in[0]) +
             ", which is known only after the whole input sequence");
    }
    if (in.size() > 1) {
      const Flow& s = in[1];
      refuse(label() + " takes its initial state from " + flow_name(s) +
             (s.seq ? ", which a stream cuts into chunks along axis 1"
                    : ", which is known only after the whole input sequence") +
             "; a stream would restart it at every chunk");
    }
    if (in[0].time_last) refuse(label() + " reads a (batch, time) input without a feature axis");
    std::vector<Flow> out(n_out);
    for (size_t t = 0; t < n_out; ++t) {
      if (rule.kind == Streaming::window || keeps_time_axis(t)) continue;
      out[t].seq = false;
      out[t].origin = t == 0 ? "its final output" : "its final state";
    }
    return out;
  }
  if (!seq) {  // only final values in (or none): the result is a final value too
    Flow f;
    f.seq = false;
    if (fin) f.origin = fin->origin;
    return std::vector<Flow>(n_out, f);
  }
  if (fin) {
    refuse(label() + " combines a sequence with " + flow_name(*fin) +
           ", which is known only after the whole input sequence");
  }
  Flow f;
  for (const Flow& x : in) {
    if (x.time_last != in[0].time_last) {
      refuse(label() + " broadcasts " + flow_name(in[0]) + " against " + flow_name(x) +
             ", one of which has time as its last axis");
    }
    f.time_last = x.time_last;
  }
  if (rule.kind == Streaming::whole_sequence) refuse(label() + " " + rule.why);
  if (rule.kind == Streaming::per_step && f.time_last) {
    refuse(label() + " acts on the last axis, which is the time axis of its (batch, time) input " +
           flow_name(*seq));
  }
  // Without its last axis, a (batch, time, x) value has time last.
  if (rule.axes_added != 0 || rule.kind == Streaming::per_step) f.time_last = rule.axes_added < 0;
  return std::vector<Flow>(n_out, f);
}

}  // namespace recur::layers
