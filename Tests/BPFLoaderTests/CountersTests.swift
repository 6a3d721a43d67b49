import BPFLoader
import ScxStats
import SwiftlandABI
import TestSupport
import Testing

/// The counter table: the one definition of every counter, its --stats line and the
/// stats protocol's schema and samples made from it.
@Suite("counters: the table, its lines and its schema")
struct CountersTests {
    @Test func tableIsTheSingleDefinition() {
        let names = CounterDefinition.all.map(\.name)
        #expect(Set(names).count == names.count, "names are unique")
        #expect(CounterDefinition.schema.fields.map(\.name) == ["mode"] + names)
        for d in CounterDefinition.all { #expect(!d.help.isEmpty && !d.unit.isEmpty, "\(d.name)") }

        var s = swl_stats()
        s.nr_running = 2
        s.nr_in_flight = 3
        var u = UserSpaceCounters()
        u.queued = 1
        let user = Counters(s, userSpace: u)
        #expect(user.line(for: .user).hasPrefix("nr_running=2 nr_direct_dispatches=0 nr_kthread_dispatches=0 nr_kept=0 nr_starvation_tasks=0 nr_preempt_asked=0 nr_preempt_granted=0 nr_preempt_refused=0 nr_preempt_deferred=0 nr_in_flight=3 "))
        #expect(user.line(for: .user).contains(" queued=1 held=0 loops=0 page_faults=0 "))
        let bpf = Counters(s)
        #expect(!bpf.line(for: .bpf).contains("queued="), "user space's counters only in user mode")
        #expect(bpf.line(for: .bpf).hasPrefix("nr_running=2 nr_interactive=0 "))
        // The served sample carries every field, and the line rebuilt from it is the same.
        let sample = user.sample(mode: .user)
        #expect(sample.values.count == CounterDefinition.schema.fields.count)
        #expect(Counters.line(sample, for: .user) == user.line(for: .user))
        #expect(Counters.line(bpf.sample(mode: .bpf), for: .bpf) == bpf.line(for: .bpf))
    }

    /// Replies recorded from `swiftland run --mode user` in the sched_ext VM with socat
    /// (Fixtures/vm-stats*.reply): the metadata sched-ext's clients saw is the table's, and the
    /// counters read back into the same --stats line.
    @Test func repliesRecordedInTheVM() throws {
        let meta = try StatsReply<[String: StatsMeta]>(line: fixture("vm-stats-meta.reply"))
        #expect(meta.errno == 0)
        #expect(meta.answer == CounterDefinition.schema.meta, "stats_meta changed: record it again if on purpose")
        let stats = try StatsReply<StatsSample>(line: fixture("vm-stats.reply"))
        let sample = try #require(stats.answer).typed(by: CounterDefinition.schema)
        #expect(sample.values.count == CounterDefinition.schema.fields.count)
        #expect(sample["mode"] == .string("user"))
        let line = Counters.line(sample, for: .user)
        #expect(line.hasPrefix("nr_running=2 nr_direct_dispatches=196 nr_kthread_dispatches=168 nr_kept=684 nr_starvation_tasks=0 nr_preempt_asked=774 "))
        #expect(line.contains(" nr_sent=1402 nr_user_dispatches=1402 ") && line.contains(" nr_drain_busy=0 ") && line.hasSuffix(" starvation=149"))
    }
}
