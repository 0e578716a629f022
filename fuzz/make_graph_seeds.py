#!/usr/bin/env python3
"""Writes fuzz/seeds/graph/*.json, the seeds of fuzz_graph (model configs for the graph builder
alone, so weightless layers): many nodes, shared layers, nested models, bad links, and the
config-only amplification files of issue 15 (refused by the activation budget before they
allocate). Plain Python, no Keras: the configs follow the Keras 3 .keras config.json schema
(and one Keras 2 one). Run from the repository root; the output is deterministic."""
import json
import os

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "seeds", "graph")
SHAPE = [None, 6, 4]


def tensor(layer, node=0, index=0, shape=SHAPE):
    return {"class_name": "__keras_tensor__",
            "config": {"shape": shape, "dtype": "float32", "keras_history": [layer, node, index]}}


def call(*args, **kwargs):
    return {"args": list(args), "kwargs": kwargs}


def layer(cls, name, nodes=None, **cfg):
    cfg["name"] = name
    entry = {"module": "keras.layers", "class_name": cls, "config": cfg, "name": name}
    if nodes is not None:
        entry["inbound_nodes"] = nodes
    return entry


def input_layer(name="input", shape=SHAPE):
    return layer("InputLayer", name, [], batch_shape=shape)


def functional(name, layers, inputs, outputs):
    return {"module": "keras", "class_name": "Functional",
            "config": {"name": name, "layers": layers, "input_layers": inputs, "output_layers": outputs}}


def sequential(name, layers):
    return {"module": "keras", "class_name": "Sequential", "config": {"name": name, "layers": layers}}


def chain(n):
    """One Activation layer called n times in a row (shared weights, n nodes)."""
    calls = [call(tensor("input") if k == 0 else tensor("act", k - 1)) for k in range(n)]
    return functional("chain", [input_layer(), layer("Activation", "act", calls, activation="relu")],
                      [["input", 0, 0]], [["act", n - 1, 0]])


def diamond(width):
    """Branches from one input merged by Add and Concatenate; one layer shared by two branches."""
    layers = [input_layer(), layer("Activation", "shared", [call(tensor("input")), call(tensor("input"))],
                                   activation="tanh")]
    branches = []
    for i in range(width):
        name = "b%d" % i
        layers.append(layer("Dropout", name, [call(tensor("shared", i % 2))], rate=0.5))
        branches.append(tensor(name))
    layers.append(layer("Add", "add", [call(branches)]))
    layers.append(layer("Concatenate", "cat", [call([tensor("add"), tensor("b0")])], axis=-1))
    return functional("diamond", layers, [["input", 0, 0]], [["cat", 0, 0], ["add", 0, 0]])


def nested(depth):
    """A Sequential inside a Functional inside ... depth times."""
    inner = sequential("seq0", [input_layer("seq0_in"), layer("Activation", "a0", activation="sigmoid"),
                                layer("Flatten", "f0")])
    for d in range(1, depth):
        name = "m%d" % d
        inner_name = inner["config"]["name"]
        inner = dict(inner, name=inner_name)
        inner["inbound_nodes"] = [call(tensor(name + "_in"))]
        inner = functional(name, [input_layer(name + "_in"), inner],
                           [[name + "_in", 0, 0]], [[inner_name, 1 if inner["class_name"] == "Functional" else 0, 0]])
    inner["name"] = inner["config"]["name"]
    inner["inbound_nodes"] = [call(tensor("input"))]
    return functional("outer", [input_layer(), inner], [["input", 0, 0]], [[inner["name"], 0, 0]])


def keras2_functional():
    """Keras 2 inbound node lists: [[name, node, tensor, kwargs], ...]."""
    layers = [{"class_name": "InputLayer", "name": "input", "config": {"name": "input", "batch_input_shape": SHAPE},
               "inbound_nodes": []},
              {"class_name": "Activation", "name": "act", "config": {"name": "act", "activation": "relu"},
               "inbound_nodes": [[["input", 0, 0, {}]], [["act", 0, 0, {}]]]},
              {"class_name": "Masking", "name": "mask", "config": {"name": "mask", "mask_value": 0.0},
               "inbound_nodes": [[["act", 1, 0, {}]]]}]
    return {"class_name": "Model", "config": {"name": "k2", "layers": layers, "input_layers": [["input", 0, 0]],
                                              "output_layers": [["mask", 0, 0]]}}


def bad(kind):
    model = chain(4)
    calls = model["config"]["layers"][1]["inbound_nodes"]
    if kind == "unknown-layer":
        calls[2] = call(tensor("nowhere", 0))
    elif kind == "node-out-of-range":
        calls[2] = call(tensor("act", 99))
    elif kind == "tensor-index-large":
        calls[2] = call(tensor("act", 1, 999))
    elif kind == "cycle":
        calls[0] = call(tensor("act", 3))
    elif kind == "self":
        calls[1] = call(tensor("act", 1))
    elif kind == "output-missing-node":
        model["config"]["output_layers"] = [["act", 7, 0]]
    elif kind == "input-not-input-layer":
        model["config"]["input_layers"] = [["act", 0, 0]]
    return model


def op(cls, name, args, module="keras.src.ops.numpy", **cfg):
    cfg["name"] = name
    return {"module": module, "class_name": cls, "config": cfg, "name": name,
            "inbound_nodes": [call(*args)]}


def keras_ops():
    """Recorded keras.ops between layers: slicing, arithmetic, reductions, matmul, einsum,
    reshape, sort/top_k, diff, glu, moments and pad."""
    sl = {"class_name": "__slice__", "config": {"start": None, "stop": None, "step": -1}}
    every = {"class_name": "__slice__", "config": {"start": None, "stop": None, "step": None}}
    layers = [
        input_layer(),
        op("GetItem", "rev", [tensor("input"), [every, sl]]),
        op("Multiply", "scaled", [tensor("rev"), 2.0]),
        op("Mean", "mean", [tensor("scaled")], axis=-1, keepdims=True),
        op("Subtract", "centred", [tensor("scaled"), tensor("mean", shape=[None, 6, 1])]),
        op("Transpose", "t", [tensor("centred")], axes=[0, 2, 1]),
        op("Matmul", "gram", [tensor("centred"), tensor("t", shape=[None, 4, 6])]),
        op("Softmax", "attn", [tensor("gram", shape=[None, 6, 6])], module="keras.src.ops.nn",
           axis=-1),
        op("Reshape", "flat", [tensor("attn", shape=[None, 6, 6])], newshape=[-1, 36]),
        op("GetItem", "last", [tensor("centred"), [every, -1, None]]),
        op("Argmax", "best", [tensor("centred")], axis=-1, keepdims=False),
        op("Take", "picked", [tensor("centred"), [[0, -1], [2, 2]]], axis=1),
        op("Argmax", "where", [tensor("centred")], axis=-1, keepdims=True),
        op("TakeAlongAxis", "top", [tensor("centred"), tensor("where", shape=[None, 6, 1])],
           axis=-1),
        op("OneHot", "hot", [tensor("best", shape=[None, 6])], num_classes=5, axis=-1,
           dtype="float32", sparse=False),
        op("Cumsum", "running", [tensor("best", shape=[None, 6])], axis=1, dtype=None),
        op("Norm", "peak", [tensor("centred")], ord=float("inf"), axis=-1, keepdims=False),
        op("Einsum", "scores", [tensor("centred"), tensor("centred")], subscripts="btc,bsc->bts"),
        op("Cumprod", "growth", [tensor("centred")], axis=1, dtype=None),
        op("Flip", "back", [tensor("centred")], axis=1),
        op("Mod", "wrapped", [tensor("back"), 0.7]),
        op("Var", "spread", [tensor("wrapped")], axis=-1, keepdims=False),
        op("Moveaxis", "moved", [tensor("centred")], source=[1], destination=[2]),
        op("Sort", "sorted", [tensor("centred")], axis=1),
        op("TopK", "largest", [tensor("sorted")], k=2, sorted=True),
        op("Diff", "steps", [tensor("centred")], n=1, axis=1),
        op("Glu", "gated", [tensor("steps", shape=[None, 5, 4])], axis=-1),
        op("Celu", "smooth", [tensor("gated", shape=[None, 5, 2])], alpha=0.5),
        op("Moments", "stats", [tensor("smooth", shape=[None, 5, 2])], axes=[1], keepdims=False,
           synchronized=False),
    ]
    padded = op("Pad", "padded", [tensor("centred")], pad_width=[[0, 0], [2, 0], [1, 1]],
                mode="constant")
    padded["inbound_nodes"][0]["kwargs"]["constant_values"] = -1.0
    layers.append(padded)
    return functional("ops", layers, [["input", 0, 0]],
                      [["flat", 0, 0], ["last", 0, 0], ["best", 0, 0], ["picked", 0, 0],
                       ["top", 0, 0], ["hot", 0, 0], ["running", 0, 0], ["peak", 0, 0],
                       ["scores", 0, 0], ["growth", 0, 0], ["spread", 0, 0], ["moved", 0, 0],
                       ["largest", 0, 1], ["stats", 0, 1], ["padded", 0, 0]])


def keras2_tf_ops():
    """tf.keras 2 TFOpLambda / SlicingOpLambda layers (a constant first argument among them)."""
    def tf_layer(cls, name, fn, node):
        return {"class_name": cls, "name": name, "inbound_nodes": [node],
                "config": {"name": name, "trainable": True, "dtype": "float32", "function": fn}}
    layers = [
        {"class_name": "InputLayer", "name": "input", "inbound_nodes": [],
         "config": {"name": "input", "batch_input_shape": SHAPE, "dtype": "float32"}},
        tf_layer("SlicingOpLambda", "last", "__operators__.getitem",
                 ["input", 0, 0, {"slice_spec": [{"start": None, "stop": None, "step": None}, -1]}]),
        tf_layer("TFOpLambda", "one_minus", "math.subtract",
                 ["_CONSTANT_VALUE", -1, 1.0, {"y": ["last", 0, 0], "name": None}]),
        tf_layer("TFOpLambda", "mean", "math.reduce_mean", ["input", 0, 0, {"axis": [1, 2]}]),
        tf_layer("TFOpLambda", "both", "concat",
                 [["one_minus", 0, 0, {"axis": -1}], ["one_minus", 0, 0, {"axis": -1}]]),
    ]
    return {"class_name": "Functional", "config": {
        "name": "tf_ops", "layers": layers, "input_layers": [["input", 0, 0]],
        "output_layers": [["both", 0, 0], ["mean", 0, 0]]}}


def category_layers():
    """Discretization, IntegerLookup (vocabulary in the config, farmhash OOV), CategoryEncoding
    and Hashing."""
    layers = [
        input_layer(),
        layer("Discretization", "bins", [call(tensor("input"))], bin_boundaries=[-0.5, 0.0, 0.5],
              output_mode="int"),
        layer("IntegerLookup", "lookup", [call(tensor("bins"))], vocabulary=[1, 2, 3],
              mask_token=0, num_oov_indices=2, output_mode="int"),
        layer("Reshape", "flat", [call(tensor("lookup"))], target_shape=[24]),
        layer("CategoryEncoding", "counts", [call(tensor("flat", shape=[None, 24]))],
              num_tokens=7, output_mode="count"),
        layer("Hashing", "hashed", [call(tensor("input"))], num_bins=11, mask_value=0,
              salt=[7, -3], output_mode="int"),
        layer("IntegerLookup", "farm", [call(tensor("hashed"))], vocabulary=[1, 2, 3],
              num_oov_indices=4, oov_method="farmhash", output_mode="int"),
    ]
    return functional("categories", layers, [["input", 0, 0]],
                      [["counts", 0, 0], ["lookup", 0, 0], ["farm", 0, 0]])


def amplifying(extra):
    """input -> extra layers (config only: Keras would allocate the activation)."""
    return sequential("amp", [input_layer()] + extra)


def main():
    os.makedirs(OUT, exist_ok=True)
    seeds = {
        "chain-300": chain(300),
        "diamond-64": diamond(64),
        "nested-6": nested(6),
        "keras2-functional": keras2_functional(),
        "keras-ops": keras_ops(),
        "keras2-tf-ops": keras2_tf_ops(),
        "category-layers": category_layers(),
        "amp-onehot-2pow32": amplifying([layer("CategoryEncoding", "oh", num_tokens=1 << 32,
                                               output_mode="one_hot")]),
        "amp-upsampling-2pow28": amplifying([layer("UpSampling1D", "up", size=1 << 28)]),
        "amp-zeropadding-2pow30": amplifying([layer("ZeroPadding1D", "pad", padding=1 << 30)]),
        "amp-repeat-2pow26": amplifying([layer("Flatten", "flat"), layer("RepeatVector", "rep", n=1 << 26)]),
    }
    for kind in ["unknown-layer", "node-out-of-range", "tensor-index-large", "cycle", "self",
                 "output-missing-node", "input-not-input-layer"]:
        seeds["bad-" + kind] = bad(kind)
    for name, model in seeds.items():
        with open(os.path.join(OUT, name + ".json"), "w") as f:
            json.dump(model, f, separators=(",", ":"), sort_keys=True)
            f.write("\n")


if __name__ == "__main__":
    main()
