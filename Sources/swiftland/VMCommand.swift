import ArgumentParser
import Foundation
import VMRunner

/// `swiftland vm`: run a command inside a VM booted on a sched_ext kernel.
struct VMCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "vm",
        abstract: "Run a command inside a QEMU VM booted on a sched_ext-enabled kernel.",
        discussion: """
            Boots a Linux kernel with sched_ext under QEMU, runs COMMAND in it as root \
            (stdin is /dev/null), streams its output (stdout and stderr together) to stdout \
            and exits with its exit status. Use it to try swiftland on a machine whose own \
            kernel lacks sched_ext. Each word after -- stays one word, as with docker run or \
            systemd-run; for a pipeline or a list, run a shell: -- sh -c 'dmesg | tail'.

            KERNEL: by default Debian's kernel from trixie-backports (7.x, which has \
            CONFIG_SCHED_CLASS_EXT) is downloaded once with apt's signature checks, cached in \
            $SWIFTLAND_CACHE/kernel (default /var/cache/swiftland) and its SHA256 re-checked \
            before every use; a damaged copy is fetched again. --kernel uses your own image \
            instead (a bzImage/vmlinuz, or an ELF vmlinux, which boots faster).

            GUEST: a small initramfs with busybox, this swiftland binary (as `swiftland` on \
            PATH), stress-ng, hackbench, cyclictest, taskset, capsh, bash (and chrt, bpftool \
            when the host has them) with their libraries; /bin/sh is busybox. proc, sys, \
            devtmpfs, debugfs, tracefs, bpffs, cgroup2 and a tmpfs /tmp are mounted; \
            /sys/kernel/sched_ext is there. --add copies more host files. No network. The \
            kernel log goes to a file (kept and named when something fails); inside, \
            `dmesg` works as usual.

            SPEED: QEMU uses KVM when it works on this host and TCG (software emulation, \
            several times slower; about 5 s to boot) otherwise. /dev/kvm existing is not \
            enough (nested KVM often fails): the first run tries KVM and, if that boot \
            fails while a TCG boot works, remembers per host that KVM is unusable. \
            --accel forces a choice.

            EXIT STATUS: COMMAND's own status when it ran to its end (0-255), else:
              64   invalid options
              122  the host cannot run the VM (QEMU or busybox missing, kernel
                   download failed, cache not writable) or --results failed
              123  the guest died before COMMAND finished (panic, QEMU crash)
              124  COMMAND ran longer than --timeout
              125  VM BOOT FAILURE: the guest never reached COMMAND in \(VMOptions().bootAttempts)
                   boots. Not a scheduler failure (git bisect run: "skip").
              130  interrupted (Ctrl-C, SIGTERM, SIGHUP); the VM is stopped
            When something fails, the kernel log's path and its last lines are
            printed on stderr.

            ENVIRONMENT: SWIFTLAND_CACHE (cache root), SWIFTLAND_QEMU (QEMU binary), \
            SWIFTLAND_DEBIAN_MIRROR (mirror for the kernel download).

            EXAMPLES:
              swiftland vm -- uname -r
              swiftland vm --cpus 4 --timeout 300 -- hackbench -g 4 -l 1000
              swiftland vm -- sh -c 'dmesg | grep sched_ext; cat /sys/kernel/sched_ext/state'
              swiftland vm --add /tmp/test.sh --results /results:./out -- /tmp/test.sh
            """)

    @Option(parsing: .unconditional, help: ArgumentHelp("Virtual CPUs (1-64). More vCPUs than host cores slows TCG down.", valueName: "N"))
    var cpus: Int = 2

    @Option(help: ArgumentHelp(
        "Guest memory, like 512M or 2G (at least 256M). The whole guest lives in RAM; unused memory costs the host nothing.",
        valueName: "SIZE"))
    var memory: String = "2G"

    @Option(help: ArgumentHelp("Boot this kernel image (bzImage or ELF vmlinux) instead of the cached Debian kernel.", valueName: "PATH"))
    var kernel: String?

    @Option(name: .customLong("add"), help: ArgumentHelp(
        "Copy a host file or directory into the guest at the same absolute path (repeatable; relative paths are taken from the current directory). Added executables bring their shared libraries.",
        valueName: "PATH"))
    var additions: [String] = []

    @Option(parsing: .unconditional, help: ArgumentHelp(
        "Stop the VM if COMMAND runs longer than this, boot not included (exit status 124). Default: no limit.",
        valueName: "SECS"))
    var timeout: Double?

    @Option(help: ArgumentHelp(
        "Copy the guest directory GUESTDIR to HOSTDIR on the host after COMMAND (through a serial port, a few hundred KB/s).",
        valueName: "GUESTDIR:HOSTDIR"))
    var results: String?

    @Option(help: ArgumentHelp("Accelerator: auto (KVM if it works here, else TCG), kvm or tcg.", valueName: "MODE"))
    var accel: String = "auto"

    @Option(name: .customLong("boot-timeout"), parsing: .unconditional, help: ArgumentHelp(
        "Seconds to wait for the guest to reach COMMAND before the boot counts as failed (retried).",
        valueName: "SECS"))
    var bootTimeout: Double = VMOptions().bootTimeout

    @Option(name: .customLong("append"), help: ArgumentHelp("Extra kernel command line arguments.", valueName: "ARGS"))
    var kernelArguments: String = ""

    @Flag(name: .shortAndLong, help: "Print progress and timings on stderr.")
    var verbose = false

    @Argument(parsing: .postTerminator, help: ArgumentHelp("The command to run in the guest, after --.", valueName: "COMMAND"))
    var command: [String] = []

    /// The runner's options, validated.
    func makeOptions() throws -> VMOptions {
        var options = VMOptions()
        do {
            try VMValidation.validateCPUs(cpus)
            options.cpus = cpus
            options.memoryMiB = try VMValidation.parseMemory(memory)
            options.command = try VMValidation.commandText(command)
            if let timeout {
                try VMValidation.validateTimeout(timeout, option: "--timeout")
                options.timeout = timeout
            }
            try VMValidation.validateTimeout(bootTimeout, option: "--boot-timeout")
            options.bootTimeout = bootTimeout
            // Relative paths are taken from the current directory; the guest gets the
            // same absolute path.
            options.additions = additions.map(Self.absolute)
            for path in options.additions { try VMValidation.validateAddition(path) }
            if let results { options.results = try ResultsSpec.parse(results) }
            guard let choice = AcceleratorChoice(rawValue: accel) else {
                throw VMOptionError("--accel must be auto, kvm or tcg, got '\(accel)'")
            }
            options.accelerator = choice
            if let kernel { _ = try KernelImage.user(kernel) }
        } catch let error as VMOptionError {
            throw ValidationError(error.description)
        }
        options.kernel = kernel.map(Self.absolute)
        options.extraKernelArguments = kernelArguments
        options.verbose = verbose
        return options
    }

    private static func absolute(_ path: String) -> String {
        path.hasPrefix("/") ? path : FileManager.default.currentDirectoryPath + "/" + path
    }

    func validate() throws {
        _ = try makeOptions()
    }

    func run() throws {
        let report = VMRunner(options: try makeOptions()).run()
        if report.exitStatus != 0 { throw ExitCode(report.exitStatus) }
    }
}
