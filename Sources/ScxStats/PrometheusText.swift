import Prometheus

/// A sample in the Prometheus text exposition format (version 0.0.4, what node_exporter's
/// textfile collector and Prometheus scrape), built with swift-prometheus. Counters are
/// named `<prefix><name>_total`, gauges `<prefix><name>`; an info field becomes
/// `<prefix><name>_info{<name>="<value>"} 1`. Each family has its HELP (meaning and unit)
/// and TYPE lines; families come in the registry's order. Array fields are left out.
public enum PrometheusText {
    public static func render(_ sample: StatsSample, schema: StatsSchema) -> String {
        let registry = PrometheusCollectorRegistry()
        for field in schema.fields {
            guard !field.isArray, let value = sample[field.name] else { continue }
            let help = field.unit.isEmpty ? field.desc : "\(field.desc) (\(field.unit))"
            switch field.kind {
            case .counter:
                let counter = registry.makeCounter(descriptor: descriptor(field, schema, help))
                switch value {
                case .u64(let v): counter.increment(by: Int64(clamping: v))
                case .i64(let v): counter.increment(by: max(v, 0))
                case .float(let v): counter.increment(by: max(v, 0))
                case .string, .array: break
                }
            case .gauge:
                if let v = value.number { registry.makeGauge(descriptor: descriptor(field, schema, help)).set(to: v) }
            case .info:
                if case .string(let s) = value {
                    registry.makeGauge(descriptor: descriptor(field, schema, help), labels: [(field.name, s)]).set(to: 1)
                }
            }
        }
        return registry.emitToString()
    }

    private static func descriptor(_ field: StatsSchema.Field, _ schema: StatsSchema, _ help: String) -> MetricNameDescriptor {
        MetricNameDescriptor(metricName: metricName(field, schema), unitName: "", helpText: help)
    }

    /// The metric name a field gets.
    public static func metricName(_ field: StatsSchema.Field, _ schema: StatsSchema) -> String {
        let base = schema.metricPrefix + field.name
        switch field.kind {
        case .counter: return base.hasSuffix("_total") ? base : base + "_total"
        case .gauge: return base
        case .info: return base + "_info"
        }
    }
}
