import Foundation
import PackagePlugin

/// Builds BPF objects from `bpf/` and embeds them as generated Swift source (see
/// scripts/embed.sh): the scheduler and `scripts/kernel.sh` into target `Embedded`, the
/// ring-buffer test programs into target `TestObjects`. Reruns whenever a file under
/// `bpf/` or one of the scripts changes.
@main
struct EmbedPlugin: BuildToolPlugin {
    func createBuildCommands(context: PluginContext, target: Target) throws -> [Command] {
        let root = context.package.directoryURL
        let bpf = root.appending(path: "bpf")
        let scripts = root.appending(path: "scripts")
        let embed = scripts.appending(path: "embed.sh")
        let work = context.pluginWorkDirectoryURL
        let output = work.appending(path: "EmbeddedData.swift")

        var inputs = [embed, scripts.appending(path: "kernel.sh")]
        let files = FileManager.default.enumerator(at: bpf, includingPropertiesForKeys: nil)
        while let url = files?.nextObject() as? URL {
            if ["c", "h", "sh"].contains(url.pathExtension) { inputs.append(url) }
        }

        // clang comes from the Swift toolchain when it is not on PATH; bpftool is in sbin.
        var env = ProcessInfo.processInfo.environment
        env["PATH"] = (env["PATH"] ?? "/usr/bin:/bin") + ":/usr/sbin:/sbin:/opt/swift/usr/bin"
        return [
            .buildCommand(
                displayName: "Building BPF objects for \(target.name) and embedding them",
                executable: URL(fileURLWithPath: "/bin/bash"),
                arguments: [embed.path, target.name == "TestObjects" ? "tests" : "product", output.path,
                            work.appending(path: "bpf").path],
                environment: env,
                inputFiles: inputs,
                outputFiles: [output])
        ]
    }
}
