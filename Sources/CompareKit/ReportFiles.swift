import ChildProcess
import Foundation

/// Writes an experiment's files into one directory: the raw data (JSON, CSV), the
/// comparisons (CSV), the terminal summary as text, the plots as SVG (and PNG where a converter is installed) and the HTML
/// page.
public enum ReportFiles {
    public static let jsonName = "experiment.json"
    public static let csvName = "rounds.csv"
    public static let comparisonsName = "comparisons.csv"
    public static let summaryName = "summary.txt"
    public static let htmlName = "report.html"

    /// What `write` produced.
    public struct Written: Sendable {
        public var files: [URL]
        /// Why no PNG was made (no converter, or one failed), for the person at the terminal.
        public var pngNote: String?
    }

    /// Writes every file into `directory` (created if missing), overwriting earlier ones.
    /// `converter` defaults to the one found on this machine; pass nil to skip PNGs.
    public static func write(
        _ experiment: Experiment, to directory: URL, converter: PNGConverter? = PNGConverter.find()
    ) throws -> Written {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let summary = Summary(experiment)
        var files: [URL] = []
        func put(_ name: String, _ data: Data) throws {
            let url = directory.appendingPathComponent(name)
            try data.write(to: url, options: .atomic)
            files.append(url)
        }
        var withComparisons = experiment
        withComparisons.comparisons = summary.comparisons
        try put(jsonName, withComparisons.jsonData())
        try put(csvName, Data(CSVReport.render(experiment).utf8))
        try put(comparisonsName, Data(CSVReport.comparisons(summary).utf8))
        try put(summaryName, Data(TerminalReport.render(summary).utf8))

        var svgs: [(String, String)] = []
        if let svg = Plots.medians(summary) { svgs.append(("medians", svg)) }
        if let svg = Plots.comparisons(summary) { svgs.append(("comparisons", svg)) }
        for w in experiment.settings.workloads {
            let slug = fileSlug(w.name)
            if let svg = Plots.latencyDistribution(summary, workload: w.name) { svgs.append(("latency-\(slug)", svg)) }
            if let svg = Plots.latencyTail(summary, workload: w.name) { svgs.append(("latency-tail-\(slug)", svg)) }
            if let svg = Plots.inFlight(experiment, workload: w.name) { svgs.append(("in-flight-\(slug)", svg)) }
            if let svg = Plots.decisionLatency(experiment, workload: w.name) { svgs.append(("decisions-\(slug)", svg)) }
        }
        var svgURLs: [URL] = []
        for (name, svg) in svgs {
            try put(name + ".svg", Data(svg.utf8))
            svgURLs.append(files.last!)
        }
        try put(htmlName, Data(HTMLReport.render(experiment, summary: summary).utf8))

        var pngNote: String?
        if let converter {
            for svg in svgURLs {
                let png = svg.deletingPathExtension().appendingPathExtension("png")
                do {
                    try converter.convert(svg, to: png)
                    files.append(png)
                } catch {
                    pngNote = "PNG conversion with \(converter.name) failed: \(error)"
                    break
                }
            }
        } else {
            pngNote = "no PNGs: neither rsvg-convert (Debian: librsvg2-bin) nor ImageMagick's convert is installed; "
                + "the SVGs and report.html have every picture"
        }
        return Written(files: files, pngNote: pngNote)
    }

    /// A workload name as a file name part: lower-case letters, digits and dashes.
    static func fileSlug(_ name: String) -> String {
        var slug = ""
        for ch in name.lowercased() {
            if ch.isASCII, ch.isLetter || ch.isNumber { slug.append(ch) } else if !slug.hasSuffix("-") { slug.append("-") }
        }
        let trimmed = slug.trimmingCharacters(in: CharacterSet(charactersIn: "-"))
        return trimmed.isEmpty ? "workload" : trimmed
    }
}

/// An installed SVG-to-PNG converter: rsvg-convert (librsvg, renders text well), else
/// ImageMagick's convert. A `convert` that is not ImageMagick is not used.
public struct PNGConverter: Sendable {
    public let name: String
    let executable: URL
    let arguments: @Sendable (_ svg: String, _ png: String) -> [String]

    public static func find(path: String? = ProcessInfo.processInfo.environment["PATH"]) -> PNGConverter? {
        let dirs = (path ?? "/usr/bin:/bin").split(separator: ":").map(String.init)
        func which(_ tool: String) -> URL? {
            dirs.map { URL(fileURLWithPath: $0).appendingPathComponent(tool) }
                .first { FileManager.default.isExecutableFile(atPath: $0.path) }
        }
        if let rsvg = which("rsvg-convert") {
            return PNGConverter(name: "rsvg-convert", executable: rsvg) { svg, png in ["-o", png, svg] }
        }
        if let convert = which("convert"), (try? run(convert, ["-version"]))?.contains("Version: ImageMagick") == true {
            return PNGConverter(name: "ImageMagick convert", executable: convert) { svg, png in [svg, png] }
        }
        return nil
    }

    public func convert(_ svg: URL, to png: URL) throws {
        _ = try Self.run(executable, arguments(svg.path, png.path))
        guard FileManager.default.fileExists(atPath: png.path) else {
            throw ConversionError(message: "\(name) wrote no \(png.lastPathComponent)")
        }
    }

    struct ConversionError: Error, CustomStringConvertible {
        let message: String
        var description: String { message }
    }

    /// Runs a tool to completion; its output, or an error with its stderr when it failed.
    private static func run(_ executable: URL, _ arguments: [String]) throws -> String {
        let output = try Subprocess.run(executable.path, arguments, stderr: .mergedWithOutput, newProcessGroup: true)
        let text = output.stdoutText
        guard output.termination.succeeded else {
            throw ConversionError(message: "\(executable.lastPathComponent) exited with \(output.termination.shellStatus): "
                + text.trimmingCharacters(in: .whitespacesAndNewlines))
        }
        return text
    }
}
