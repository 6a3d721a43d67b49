import ArgumentParser
import BPFLoader
import CompareKit
import Foundation

/// The options that decide how an experiment's arms are compared, shared by `compare` and
/// `report`.
struct ComparisonOptions: ParsableArguments {
    @Option(help: ArgumentHelp(
        "The arm every other arm is compared against (default: eevdf when it ran, else the first arm).",
        valueName: "arm"))
    var baseline: String?

    @Option(parsing: .unconditional, help: ArgumentHelp(
        "Equivalence margin in percent, above 0 and below 100: 'same' when the ratio's whole 95% interval lies within it (default: 5; for report, the experiment's own).",
        valueName: "percent"))
    var margin: Double?

    @Option(help: ArgumentHelp(
        "A directory with an earlier experiment.json: say, comparison by comparison, whether the verdicts agree.",
        valueName: "dir"))
    var checkAgainst: String?

    func validate() throws {
        if let margin, !(margin > 0 && margin < 100) {
            throw ValidationError("--margin must lie above 0 and below 100 (percent), e.g. --margin 5")
        }
        if let checkAgainst { _ = try Self.load(checkAgainst, option: "--check-against") }
    }

    /// Refuses, before an experiment runs, a `--check-against` experiment that shares no
    /// workload or fewer than two arms with it: none of their comparisons could match.
    func checkComparable(arms: [Arm], workloads: [String]) throws {
        guard let checkAgainst else { return }
        let previous = try Self.load(checkAgainst, option: "--check-against").settings
        let sharedArms = arms.filter(previous.arms.contains)
        let sharedWorkloads = workloads.filter { name in previous.workloads.contains { $0.name == name } }
        guard sharedArms.count >= 2, !sharedWorkloads.isEmpty else {
            throw ValidationError("--check-against \(checkAgainst): not comparable: it ran "
                + "\(previous.arms.map(\.description).joined(separator: ",")) on \(previous.workloads.map(\.name).joined(separator: ",")), "
                + "this run \(arms.map(\.description).joined(separator: ",")) on \(workloads.joined(separator: ","))")
        }
    }

    /// The chosen baseline, checked against the arms that run.
    func baselineArm(among arms: [Arm]) throws -> Arm? {
        guard let baseline else { return nil }
        let arm: Arm
        do {
            arm = try Arm(parsing: baseline)
        } catch {
            throw ValidationError("--baseline: \(error)")
        }
        guard arms.contains(arm) else {
            throw ValidationError("--baseline \(baseline) is not one of the arms (\(arms.map(\.description).joined(separator: ", ")))")
        }
        return arm
    }

    /// The experiment in `directory`/experiment.json, with an error that names the file.
    static func load(_ directory: String, option: String) throws -> Experiment {
        let file = URL(fileURLWithPath: directory).appendingPathComponent(ReportFiles.jsonName)
        let data: Data
        do {
            data = try Data(contentsOf: file)
        } catch {
            throw ValidationError("\(option) \(directory): cannot read \(file.path): is it a directory written by `swiftland compare --out`?")
        }
        do {
            return try Experiment.decode(json: data)
        } catch let DecodingError.dataCorrupted(context) where context.codingPath.isEmpty {
            throw ValidationError("\(option) \(directory): \(file.lastPathComponent) is not an experiment this swiftland reads (\(context.debugDescription))")
        } catch {
            throw ValidationError("\(option) \(directory): \(file.lastPathComponent) is not an experiment this swiftland reads (\(error))")
        }
    }

    /// The agreement table of `experiment` against the one in `--check-against`, or nil
    /// without that option. A pair with nothing in common is an error.
    func agreement(with experiment: Experiment) throws -> String? {
        guard let checkAgainst else { return nil }
        let previous = try Self.load(checkAgainst, option: "--check-against")
        do {
            return try Agreement(current: experiment, previous: previous, previousName: checkAgainst).render()
        } catch {
            throw ValidationError("--check-against \(checkAgainst): \(error)")
        }
    }
}

struct ReportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "Report an experiment again from its experiment.json, and check its verdicts against another.",
        discussion: """
            Reads DIR/experiment.json as `swiftland compare --out DIR` wrote it and prints its \
            report: per arm the median and its interval, per comparison the paired ratio, \
            its interval and the verdict. Nothing runs and nothing is written unless --out \
            is given. --baseline and --margin recompute the comparisons; --check-against \
            OTHER says, comparison by comparison, whether the verdicts of the two experiments \
            agree (a comparison in one of them only is listed as such; two experiments with \
            no comparison in common are an error).

            Examples:
              swiftland report results
              swiftland report results --check-against results-yesterday
              swiftland report results --baseline bpf --margin 10 --out results-vs-bpf
            """)

    @Argument(help: ArgumentHelp("A directory written by `swiftland compare --out`.", valueName: "dir"))
    var directory: String

    @OptionGroup(title: "Comparisons")
    var comparison: ComparisonOptions

    @Option(help: ArgumentHelp("Write the report's files (experiment.json, CSV, plots, report.html) here.", valueName: "dir"))
    var out: String?

    @Flag(help: "Leave out the run-queue latency histograms.")
    var noHistograms = false

    func validate() throws {
        let experiment = try ComparisonOptions.load(directory, option: "report")
        _ = try comparison.baselineArm(among: experiment.settings.arms)
    }

    func run() throws {
        var experiment = try ComparisonOptions.load(directory, option: "report")
        if let baseline = try comparison.baselineArm(among: experiment.settings.arms) {
            experiment.settings.baseline = baseline
        }
        if let margin = comparison.margin { experiment.settings.marginPercent = margin }
        Terminal.out(TerminalReport.render(Summary(experiment), histograms: !noHistograms))
        if let table = try comparison.agreement(with: experiment) { Terminal.out(table) }
        if let out {
            let written = try ReportFiles.write(experiment, to: URL(fileURLWithPath: out))
            Terminal.out("swiftland report: \(written.files.count) files in \(out)/ (open \(out)/report.html)")
        }
    }
}
