/// The policies `--policy` chooses from.
public enum PolicyName: String, CaseIterable, Sendable {
    /// bpf mode's policy in Swift: interactive classification, two queues, starvation guard.
    case bpfland
    /// The rustland design: one queue ordered by vruntime deadline.
    case vruntime
    /// First come, first served: the template for your own policy.
    case fifo

    /// The policy called `name`.
    ///
    /// - Throws: `PolicyError.unknownPolicy` naming the ones that exist.
    public init(validating name: String) throws(PolicyError) {
        guard let known = PolicyName(rawValue: name) else { throw .unknownPolicy(name) }
        self = known
    }

    /// A new policy of this kind.
    ///
    /// The policies are non-copyable (see `SchedulingPolicy`), so this is an existential
    /// that suppresses `Copyable`: keep it in a `var` and call it in place, or pass it
    /// `inout` to code generic over `SchedulingPolicy & ~Copyable`. The loop that drives it
    /// can stay free of dynamic dispatch by being generic over the policy and switching on
    /// the name once, outside the loop (as the scheduling thread does).
    ///
    /// - Throws: `PolicyError.invalidConfig` when `config` makes no sense.
    public func make(config: PolicyConfig = PolicyConfig()) throws(PolicyError)
        -> any SchedulingPolicy & ~Copyable
    {
        if let problem = config.problem() { throw .invalidConfig(problem) }
        switch self {
        case .bpfland: return BpflandPolicy(config: config)
        case .vruntime: return VruntimePolicy(config: config)
        case .fifo: return FifoPolicy(config: config)
        }
    }
}

/// A policy chosen by name, e.g. the value of `--policy`.
///
/// - Throws: `PolicyError.unknownPolicy` or `.invalidConfig`, with a message a person can act on.
public func makePolicy(named name: String, config: PolicyConfig = PolicyConfig()) throws(PolicyError)
    -> any SchedulingPolicy & ~Copyable
{
    try PolicyName(validating: name).make(config: config)
}

public enum PolicyError: Error, Equatable, CustomStringConvertible {
    case unknownPolicy(String)
    case invalidConfig(String)

    public var description: String {
        switch self {
        case .unknownPolicy(let name):
            let known = PolicyName.allCases.map(\.rawValue).joined(separator: ", ")
            return "unknown policy \"\(name)\": choose one of \(known)"
        case .invalidConfig(let problem):
            return "invalid policy configuration: \(problem)"
        }
    }
}
