/// Starts fetching the cache line at `address` into every cache level, without waiting
/// for it: a `prefetcht0` on x86-64, `prfm pldl1keep` on arm64.
///
/// Unlike a load whose result is kept, a prefetch never holds up the instructions after
/// it (a load that misses blocks retirement until its line arrives), and it cannot fault.
/// Swift has no prefetch of its own; this binds LLVM's prefetch intrinsic by name
/// (read, highest locality, data cache).
@inlinable @inline(__always)
func prefetch(_ address: UnsafeRawPointer) {
    _llvmPrefetch(address, 0, 3, 1)
}

@_silgen_name("llvm.prefetch.p0")
@usableFromInline func _llvmPrefetch(_ address: UnsafeRawPointer, _ rw: Int32, _ locality: Int32, _ cacheType: Int32)

