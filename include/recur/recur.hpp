// recur: run Keras recurrent networks from C++ with Keras' results.
#pragma once

#include "recur/activations.hpp"
#include "recur/cells.hpp"
#include "recur/errors.hpp"
#include "recur/layers.hpp"
#include "recur/model.hpp"
#include "recur/npy.hpp"
#include "recur/ops.hpp"
#include "recur/tensor.hpp"
#include "recur/threads.hpp"
