import BPFLoader
import ScxStats
import SwiftlandABI
import Testing

/// The counter table: the one definition of every counter, its --stats line and the
/// stats protocol's schema and samples made from it.
@Suite("counters: the table, its lines and its schema")
struct CountersTests {
    @Test func tableIsTheSingleDefinition() {
        let names = CounterDefinition.all.map(\.name)
        #expect(Set(names).count == names.count, "names are unique")
        #expect(CounterDefinition.schema.fields.map(\.name) == ["mode"] + names + ["decision_hist_us", "run_hist_us"])
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
        #expect(sample["decision_hist_us"] == .array(Array(repeating: .u64(0), count: Int(SWL_HIST_BUCKETS.rawValue))))
        #expect(sample["run_hist_us"] == .array(Array(repeating: .u64(0), count: Int(SWL_HIST_BUCKETS.rawValue))))
        #expect(Counters.line(sample, for: .user) == user.line(for: .user))
        #expect(Counters.line(bpf.sample(mode: .bpf), for: .bpf) == bpf.line(for: .bpf))
    }
}
