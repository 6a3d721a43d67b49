/// What a stats server serves, described once: the fields of its top-level statistics
/// struct. The `stats_meta` reply, the `stats` reply, the help text and the Prometheus
/// exposition are all generated from it.
public struct StatsSchema: Sendable {
    /// One statistic.
    public struct Field: Sendable, Equatable {
        /// The value's type, as scx_stats names it in `stats_meta` ("datum").
        public enum Datum: String, Sendable {
            case u64, i64, float, string
        }

        /// How the value behaves over time, for metrics systems.
        public enum Kind: String, Sendable {
            /// Only grows while the scheduler runs.
            case counter
            /// Goes up and down.
            case gauge
            /// Not a number (a mode, a name); left out of metrics.
            case info
        }

        public let name: String
        /// What it means, for a person.
        public let desc: String
        /// What it counts or measures in ("tasks", "ns", ...); empty for info fields.
        public let unit: String
        public let datum: Datum
        public let kind: Kind

        public init(name: String, desc: String, unit: String, datum: Datum = .u64, kind: Kind) {
            self.name = name
            self.desc = desc
            self.unit = unit
            self.datum = datum
            self.kind = kind
        }
    }

    /// The struct's name in `stats_meta`.
    public let name: String
    public let desc: String
    /// Prefix of each metric's name in metrics systems (scx's `_om_prefix`), e.g. "swiftland_".
    public let metricPrefix: String
    public let fields: [Field]

    public init(name: String, desc: String, metricPrefix: String, fields: [Field]) {
        self.name = name
        self.desc = desc
        self.metricPrefix = metricPrefix
        self.fields = fields
    }

    /// The `stats_meta` reply: scx_stats's metadata of every struct the server serves
    /// (here one, marked "top"), keyed by struct name. User attributes (names starting
    /// with "_") carry the unit and kind; scx's OpenMetrics converter reads `_om_prefix`
    /// and `_om_skip`.
    public var meta: JSON {
        let fieldsJSON: [(String, JSON)] = fields.map { f in
            var user: [(String, JSON)] = [("_kind", .string(f.kind.rawValue))]
            if f.kind == .info { user.append(("_om_skip", .string("true"))) }
            if !f.unit.isEmpty { user.append(("_unit", .string(f.unit))) }
            return (f.name, .object([("datum", .string(f.datum.rawValue)), ("desc", .string(f.desc)), ("user", .object(user))]))
        }
        let structJSON: JSON = .object([
            ("name", .string(name)),
            ("top", .string("true")),
            ("desc", .string(desc)),
            ("user", .object([("_om_prefix", .string(metricPrefix))])),
            ("fields", .object(fieldsJSON)),
        ])
        return .object([(name, structJSON)])
    }

    /// Every field with its type, kind, unit and meaning, for `--help-stats`.
    public var helpText: String {
        let nameWidth = fields.map(\.name.count).max() ?? 0
        let types = fields.map(Self.typeLabel)
        let typeWidth = types.map(\.count).max() ?? 0
        var lines = ["[\(name)] \(desc)"]
        for (f, type) in zip(fields, types) {
            let pad1 = String(repeating: " ", count: nameWidth - f.name.count)
            let pad2 = String(repeating: " ", count: typeWidth - type.count)
            lines.append("  \(f.name)\(pad1) \(type)\(pad2) : \(f.desc)")
        }
        return lines.joined(separator: "\n")
    }

    private static func typeLabel(_ f: Field) -> String {
        f.unit.isEmpty ? "(\(f.datum.rawValue), \(f.kind.rawValue))" : "(\(f.datum.rawValue), \(f.kind.rawValue), \(f.unit))"
    }
}

/// One reading of a schema's fields.
public enum StatValue: Sendable, Equatable {
    case u64(UInt64)
    case i64(Int64)
    case float(Double)
    case string(String)

    public var json: JSON {
        switch self {
        case .u64(let v): .uint(v)
        case .i64(let v): .int(v)
        case .float(let v): .double(v)
        case .string(let v): .string(v)
        }
    }

    /// The value as a metrics system takes it; nil for strings.
    public var number: Double? {
        switch self {
        case .u64(let v): Double(v)
        case .i64(let v): Double(v)
        case .float(let v): v
        case .string: nil
        }
    }
}

/// Values by field name, as a `stats` reply carries them.
public struct StatsSample: Sendable, Equatable {
    public var values: [String: StatValue]

    public init(_ values: [String: StatValue] = [:]) {
        self.values = values
    }

    public subscript(name: String) -> StatValue? {
        get { values[name] }
        set { values[name] = newValue }
    }

    /// The `stats` reply: the schema's fields in its order; a field without a value is left out.
    public func json(_ schema: StatsSchema) -> JSON {
        .object(schema.fields.compactMap { f in values[f.name].map { (f.name, $0.json) } })
    }

    /// The values of a `stats` reply, typed by the schema; names it does not know are kept
    /// as numbers or strings as they came.
    public init(json: JSON, schema: StatsSchema) {
        var values: [String: StatValue] = [:]
        if case .object(let members) = json {
            let datums = Dictionary(schema.fields.map { ($0.name, $0.datum) }, uniquingKeysWith: { a, _ in a })
            for (name, value) in members {
                switch (datums[name], value) {
                case (.float, _): if let d = value.double { values[name] = .float(d) }
                case (_, .uint(let v)): values[name] = .u64(v)
                case (_, .int(let v)): values[name] = .i64(v)
                case (_, .double(let v)): values[name] = .float(v)
                case (_, .string(let v)): values[name] = .string(v)
                default: break
                }
            }
        }
        self.values = values
    }
}
