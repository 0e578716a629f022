// Symbol visibility. recur is compiled with hidden visibility; each public header opens
// RECUR_API_BEGIN after its includes and closes it with RECUR_API_END, so everything declared
// in include/recur/ (and nothing else) is exported from librecur.so. RECUR_API marks a single
// declaration.
#pragma once

#if defined(__GNUC__) || defined(__clang__)
#define RECUR_API __attribute__((visibility("default")))
#define RECUR_API_BEGIN _Pragma("GCC visibility push(default)")
#define RECUR_API_END _Pragma("GCC visibility pop")
#else
#define RECUR_API
#define RECUR_API_BEGIN
#define RECUR_API_END
#endif
