/// A set of CPU numbers, `0..<CPUMask.capacity`, held inline (no allocation).
///
/// The scheduling loop fills one from the idle-CPU bitmap the kernel side publishes and
/// hands it to `SchedulingPolicy.next` as `inout`: a policy that sends a task to an idle
/// CPU claims it, so the next task of the same batch does not go there too.
public struct CPUMask: Sendable, Equatable {
    /// SWL_MAX_CPUS of bpf/intf.h (16 words of 64 bits; a test checks the two agree).
    public static let capacity = 1024
    private static let wordCount = 16

    private var words: InlineArray<16, UInt64>

    /// The empty set.
    public init() {
        words = InlineArray(repeating: 0)
    }

    /// The CPUs in `cpus`; numbers outside `0..<capacity` are ignored.
    public init(_ cpus: some Sequence<Int32>) {
        self.init()
        for cpu in cpus { insert(cpu) }
    }

    /// A copy of a bitmap laid out as the kernel lays out a cpumask: CPU n is bit n % 64 of
    /// word n / 64. Words past `capacity` are ignored.
    public init(bitmap: UnsafeBufferPointer<UInt64>) {
        self.init()
        for i in 0..<Swift.min(bitmap.count, Self.wordCount) { words[i] = bitmap[i] }
    }

    public var isEmpty: Bool {
        for i in 0..<Self.wordCount where words[i] != 0 { return false }
        return true
    }

    public var count: Int {
        var total = 0
        for i in 0..<Self.wordCount { total += words[i].nonzeroBitCount }
        return total
    }

    public func contains(_ cpu: Int32) -> Bool {
        guard cpu >= 0 && Int(cpu) < Self.capacity else { return false }
        return words[Int(cpu) / 64] & (1 << UInt64(cpu % 64)) != 0
    }

    public mutating func insert(_ cpu: Int32) {
        guard cpu >= 0 && Int(cpu) < Self.capacity else { return }
        words[Int(cpu) / 64] |= 1 << UInt64(cpu % 64)
    }

    public mutating func remove(_ cpu: Int32) {
        guard cpu >= 0 && Int(cpu) < Self.capacity else { return }
        words[Int(cpu) / 64] &= ~(1 << UInt64(cpu % 64))
    }

    /// Takes `cpu` out of the set if it is in it.
    ///
    /// - Returns: whether it was in the set (the caller may dispatch to it).
    public mutating func claim(_ cpu: Int32) -> Bool {
        guard contains(cpu) else { return false }
        remove(cpu)
        return true
    }

    /// Takes the lowest CPU out of the set.
    public mutating func claimFirst() -> Int32? {
        for i in 0..<Self.wordCount where words[i] != 0 {
            let bit = words[i].trailingZeroBitCount
            words[i] &= words[i] - 1
            return Int32(i * 64 + bit)
        }
        return nil
    }

    public static func == (lhs: CPUMask, rhs: CPUMask) -> Bool {
        for i in 0..<wordCount where lhs.words[i] != rhs.words[i] { return false }
        return true
    }
}
