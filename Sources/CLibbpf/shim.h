#ifndef SWIFTLAND_CLIBBPF_SHIM_H
#define SWIFTLAND_CLIBBPF_SHIM_H
#include <bpf/libbpf.h>
#include <bpf/bpf.h>
#include <bpf/btf.h>
#endif
