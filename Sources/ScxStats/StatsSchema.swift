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
        /// A list of `datum`s (scx_stats's "array"), e.g. a histogram's buckets; left out
        /// of metrics.
        public let isArray: Bool

        public init(name: String, desc: String, unit: String, datum: Datum = .u64, kind: Kind, isArray: Bool = false) {
            self.name = name
            self.desc = desc
            self.unit = unit
            self.datum = datum
            self.kind = kind
            self.isArray = isArray
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
    public var meta: [String: StatsMeta] {
        var fieldsMeta: [String: StatsMeta.Field] = [:]
        for f in fields {
            var user = ["_kind": f.kind.rawValue]
            if f.kind == .info || f.isArray { user["_om_skip"] = "true" }
            if !f.unit.isEmpty { user["_unit"] = f.unit }
            fieldsMeta[f.name] = f.isArray
                ? StatsMeta.Field(array: f.datum.rawValue, desc: f.desc, user: user)
                : StatsMeta.Field(datum: f.datum.rawValue, desc: f.desc, user: user)
        }
        return [name: StatsMeta(name: name, top: "true", desc: desc, user: ["_om_prefix": metricPrefix], fields: fieldsMeta)]
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
        let datum = f.isArray ? "[\(f.datum.rawValue)]" : f.datum.rawValue
        return f.unit.isEmpty ? "(\(datum), \(f.kind.rawValue))" : "(\(datum), \(f.kind.rawValue), \(f.unit))"
    }
}

/// The metadata of one stats struct as scx_stats's `stats_meta` reply carries it: its
/// name, "top" ("true" for the struct a plain `stats` request returns), what it is, user
/// attributes, and its fields by name, each with its datum ("u64", "i64", "float",
/// "string") or, for a list, its array's, meaning and user attributes. Members it does not
/// name (a "dict" field's) are ignored when read.
public struct StatsMeta: Codable, Sendable, Equatable {
    public struct Field: Codable, Sendable, Equatable {
        /// One value's type; nil for a list.
        public var datum: String?
        /// A list's element type; nil for one value.
        public var array: String?
        public var desc: String?
        public var user: [String: String]

        public init(datum: String, desc: String?, user: [String: String]) {
            self.datum = datum
            self.desc = desc
            self.user = user
        }

        public init(array: String, desc: String?, user: [String: String]) {
            self.array = array
            self.desc = desc
            self.user = user
        }
    }

    public var name: String
    public var top: String?
    public var desc: String?
    public var user: [String: String]
    public var fields: [String: Field]

    public init(name: String, top: String?, desc: String?, user: [String: String], fields: [String: Field]) {
        self.name = name
        self.top = top
        self.desc = desc
        self.user = user
        self.fields = fields
    }
}

/// One reading of a schema's fields.
public enum StatValue: Sendable, Equatable {
    case u64(UInt64)
    case i64(Int64)
    case float(Double)
    case string(String)
    /// A list of numbers or strings (an array field).
    indirect case array([StatValue])

    /// The value as a metrics system takes it; nil for strings and lists.
    public var number: Double? {
        switch self {
        case .u64(let v): Double(v)
        case .i64(let v): Double(v)
        case .float(let v): v
        case .string, .array: nil
        }
    }
}

/// A value is a JSON number or string, or an array of them. Integers stay exact 64-bit
/// values: read as UInt64 when they fit, else as Int64; other numbers as doubles. JSON has
/// no number for a non-finite double: it is written as null (and left out when read back).
extension StatValue: Codable {
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        switch self {
        case .u64(let v): try c.encode(v)
        case .i64(let v): try c.encode(v)
        case .float(let v): if v.isFinite { try c.encode(v) } else { try c.encodeNil() }
        case .string(let v): try c.encode(v)
        case .array(let items): try c.encode(items)
        }
    }

    /// A number or a string; an array of them (not of arrays, objects, booleans or nulls).
    public init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        if let scalar = Self.scalar(c) {
            self = scalar
        } else {
            self = .array(try c.decode([Scalar].self).map(\.value))
        }
    }

    private static func scalar(_ c: any SingleValueDecodingContainer) -> StatValue? {
        if let v = try? c.decode(UInt64.self) { return .u64(v) }
        if let v = try? c.decode(Int64.self) { return .i64(v) }
        if let v = try? c.decode(Double.self) { return .float(v) }
        if let v = try? c.decode(String.self) { return .string(v) }
        return nil
    }

    /// An array's element.
    private struct Scalar: Decodable {
        let value: StatValue
        init(from decoder: any Decoder) throws {
            guard let v = StatValue.scalar(try decoder.singleValueContainer()) else {
                throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "not a number or a string"))
            }
            value = v
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

    /// The field's value when it is a u64 (every counter's type); nil otherwise.
    public func u64(_ name: String) -> UInt64? {
        if case .u64(let v)? = values[name] { return v }
        return nil
    }

    /// What a `stats` reply carries: the schema's fields that have a value; names the
    /// schema does not know are left out.
    public func restricted(to schema: StatsSchema) -> StatsSample {
        StatsSample(values.filter { name, _ in schema.fields.contains { $0.name == name } })
    }

    /// The values of a `stats` reply, typed by the schema: a float field's integers become
    /// floats (and a string there is dropped); names it does not know are kept as numbers
    /// or strings as they came.
    public func typed(by schema: StatsSchema) -> StatsSample {
        let datums = Dictionary(schema.fields.map { ($0.name, $0.datum) }, uniquingKeysWith: { a, _ in a })
        var typed = StatsSample()
        for (name, value) in values {
            guard datums[name] == .float else {
                typed[name] = value
                continue
            }
            if let d = value.number { typed[name] = .float(d) }
        }
        return typed
    }
}

/// A sample is a JSON object of values by name. Read from a reply, a member that is not a
/// number, a string or an array of them (null, a boolean, an object) is left out.
extension StatsSample: Codable {
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(values)
    }

    public init(from decoder: any Decoder) throws {
        let members = try decoder.singleValueContainer().decode([String: MaybeValue].self)
        values = members.compactMapValues(\.value)
    }

    private struct MaybeValue: Decodable {
        let value: StatValue?
        init(from decoder: any Decoder) throws { value = try? StatValue(from: decoder) }
    }
}
