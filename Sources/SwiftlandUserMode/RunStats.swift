import BPFLoader
import CompareKit
import ScxStats

/// What `swiftland run` serves on its stats socket, described once: every counter
/// (`CounterDefinition`) and the scheduler's own cost since the attachment (`CostMeter`).
/// The `stats_meta` and `stats` replies, `--help-stats`, `--monitor` and `swiftland metrics`
/// all come from it.
public enum RunStats {
    public static let schema = StatsSchema(
        name: CounterDefinition.schema.name,
        desc: "swiftland's counters and its own cost (absolute since the scheduler was loaded; counters of the other mode stay 0)",
        metricPrefix: CounterDefinition.schema.metricPrefix,
        fields: CounterDefinition.schema.fields + costFields)

    /// The cost fields (`CostMeter.values`), after the counters.
    public static var costFields: [StatsSchema.Field] { CostMeter.statsFields }

    /// One reading: the counters, and the cost fields that have a figure.
    public static func sample(_ counters: Counters, mode: SchedulerMode, cost: SchedulerCost) -> StatsSample {
        adding(cost, to: counters.sample(mode: mode))
    }

    /// `sample` with the cost fields that have a figure.
    public static func adding(_ cost: SchedulerCost, to sample: StatsSample) -> StatsSample {
        var sample = sample
        for (name, value) in CostMeter.values(cost) { sample[name] = .u64(value) }
        return sample
    }

    /// The cost fields of a sample, `name=value` in schema order, for `--monitor`'s line.
    public static func costLine(_ sample: StatsSample) -> String {
        costFields.compactMap { f in sample.u64(f.name).map { "\(f.name)=\($0)" } }.joined(separator: " ")
    }

    /// The mode a sample says; bpf when it says none.
    public static func mode(of sample: StatsSample) -> SchedulerMode {
        if case .string(let s)? = sample["mode"], let mode = SchedulerMode(rawValue: s) { return mode }
        return .bpf
    }
}
