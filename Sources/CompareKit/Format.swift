import Foundation

// Number formatting shared by every output, locale-independent so that files written on
// any machine read the same.

/// Whole numbers as they are ("64", "16383"); others with about four significant digits
/// (three below 1), never in scientific notation for the figures met here (0.0123 s to
/// 10^6 bogo ops/s).
func formatNumber(_ x: Double) -> String {
    guard x.isFinite else { return x.isNaN ? "nan" : (x > 0 ? "inf" : "-inf") }
    if x == x.rounded(), abs(x) < 1e15 { return String(Int64(x)) }
    let magnitude = abs(x)
    let decimals: Int
    switch magnitude {
    case 1000...: decimals = 0
    case 100..<1000: decimals = 1
    case 10..<100: decimals = 2
    case 1..<10: decimals = 3
    default: decimals = min(9, 2 - Int(floor(log10(magnitude))))
    }
    return String(format: "%.\(decimals)f", x)
}

/// Ratios: three decimals ("0.823"), enough to see a 1% difference.
func formatRatio(_ x: Double) -> String {
    String(format: "%.3f", x)
}

/// "95%", "98.4%".
func formatPercent(_ p: Double) -> String {
    let tenths = (p * 1000).rounded() / 10
    return tenths == tenths.rounded() ? "\(Int(tenths))%" : String(format: "%.1f%%", tenths)
}

/// A share of one CPU as a percentage: "2.51%", "12.3%", "<0.01%" (more than 0, less than
/// can be shown), "0%".
func formatShare(_ share: Double) -> String {
    let percent = share * 100
    if percent > 0, percent < 0.005 { return "<0.01%" }
    if percent == 0 { return "0%" }
    return String(format: percent >= 10 ? "%.1f%%" : "%.2f%%", percent)
}

/// 58284 -> "58,284", as the seed's "Total samples" line.
func formatCount(_ n: UInt64) -> String {
    let digits = String(n)
    var result = ""
    for (i, ch) in digits.enumerated() {
        if i > 0, (digits.count - i) % 3 == 0 { result.append(",") }
        result.append(ch)
    }
    return result
}

/// A microsecond bucket edge as bpftrace labels them: 512, 1K, 2K, ..., 1M (powers of 1024).
func formatEdgeUs(_ us: Double) -> String {
    let n = UInt64(us)
    if n >= 1 << 20, n % (1 << 20) == 0 { return "\(n >> 20)M" }
    if n >= 1 << 10, n % (1 << 10) == 0 { return "\(n >> 10)K" }
    return String(n)
}

/// A percentile of a log2 histogram as the tables show it: the bucket's upper edge, or
/// ">= lower edge" when it fell in the open last bucket.
func formatPercentileUs(_ p: Percentile?) -> String {
    guard let p else { return "-" }
    if let upper = p.upperEdgeUs { return formatNumber(upper) }
    return ">=" + formatNumber(p.lowerEdgeUs)
}

/// The largest sample: exact ("12345"), or "<" a bucket edge.
func formatLargestUs(_ histogram: Log2Histogram?) -> String {
    guard let histogram, let largest = histogram.largestUs else {
        if let histogram, let top = histogram.counts.lastIndex(where: { $0 > 0 }) {
            return ">=" + formatNumber(Log2Histogram.lowerEdgeUs(bucket: top))
        }
        return "-"
    }
    return largest.exact ? formatNumber(largest.value) : "<" + formatNumber(largest.value)
}

/// A plain-text table: columns padded to their widest cell, numbers right-aligned.
func renderTextTable(header: [String], rows: [[String]], rightAligned: Set<Int>, indent: String = "") -> String {
    var widths = header.map(\.count)
    for row in rows {
        for (i, cell) in row.enumerated() where i < widths.count { widths[i] = max(widths[i], cell.count) }
    }
    func line(_ cells: [String]) -> String {
        let padded = cells.enumerated().map { i, cell in
            let pad = String(repeating: " ", count: widths[i] - cell.count)
            return rightAligned.contains(i) ? pad + cell : cell + pad
        }
        return indent + padded.joined(separator: "  ").replacingOccurrences(of: "\\s+$", with: "", options: .regularExpression)
    }
    return ([line(header)] + rows.map(line)).joined(separator: "\n")
}
