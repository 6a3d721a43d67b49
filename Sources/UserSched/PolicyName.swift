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

    /// The one table of built-in policies: hands `user` this policy's maker, so that what
    /// `user` does with it (run it, benchmark it, test it) is specialised for the policy.
    ///
    /// - Throws: `PolicyError.invalidConfig` when `config` makes no sense, or what `user` throws.
    public func use<User: PolicyUser>(config: PolicyConfig, _ user: User) throws -> User.Result {
        if let problem = config.problem() { throw PolicyError.invalidConfig(problem) }
        switch self {
        case .bpfland: return try user.use(self) { BpflandPolicy(config: config) }
        case .vruntime: return try user.use(self) { VruntimePolicy(config: config) }
        case .fifo: return try user.use(self) { FifoPolicy(config: config) }
        }
    }

    /// A new policy of this kind, for code that does not specialise (tests, a benchmark of
    /// dynamic dispatch): an existential that suppresses `Copyable`, to keep in a `var` and
    /// call in place, or pass `inout` to code generic over `SchedulingPolicy & ~Copyable`.
    ///
    /// - Throws: `PolicyError.invalidConfig` when `config` makes no sense.
    public func make(config: PolicyConfig = PolicyConfig()) throws(PolicyError) -> any SchedulingPolicy & ~Copyable {
        let made: MadePolicy
        do {
            made = try use(config: config, MakeExistential())
        } catch let error as PolicyError {
            throw error
        } catch {
            preconditionFailure("making a policy throws only PolicyError: \(error)")
        }
        return made.policy.take()!
    }
}

/// A made policy on its way out of `PolicyName.make` (a result of `PolicyUser` is copyable:
/// the non-copyable policy travels in a class).
private final class MadePolicy {
    var policy: (any SchedulingPolicy & ~Copyable)?

    init(_ policy: consuming any SchedulingPolicy & ~Copyable) {
        self.policy = .some(policy)
    }
}

private struct MakeExistential: PolicyUser {
    func use<Policy: SchedulingPolicy & ~Copyable>(_ name: PolicyName, _ make: @escaping @Sendable () -> Policy) -> MadePolicy {
        MadePolicy(make())
    }
}

/// What to do with a built-in policy once it is chosen (`PolicyName.use`).
public protocol PolicyUser {
    associatedtype Result
    /// `make` makes a new policy called `name`.
    func use<Policy: SchedulingPolicy & ~Copyable>(_ name: PolicyName, _ make: @escaping @Sendable () -> Policy) throws -> Result
}

/// A policy chosen by name, e.g. the value of `--policy` (see `PolicyName.make`).
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
