using Kiel.Groups;
using Microsoft.Extensions.Time.Testing;

namespace Kiel.Tests.Groups;

/// <summary>Issue 19: a member hands out records only while its claims are known alive and its progress had no gap.</summary>
public class HandOutLeaseTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(3); // margin: 1 s; fresh while contact < 2 s old

    private sealed class FakeSession(FakeTimeProvider clock) : ISessionLease
    {
        public long SessionId { get; set; } = 7;
        public TimeSpan SessionTimeout => Timeout;
        private long _contact;

        public long LastContactTimestamp
        {
            get
            {
                var contact = _contact;
                OnContactRead?.Invoke();
                return contact;
            }
            set => _contact = value;
        }

        /// <summary>Runs as the contact is read: another thread replacing the session in the middle of a check.</summary>
        public Action? OnContactRead { get; set; }

        public void Contact() => LastContactTimestamp = clock.GetTimestamp();
    }

    private static (FakeTimeProvider Clock, FakeSession Session, HandOutLease Lease) Joined()
    {
        var clock = new FakeTimeProvider();
        var session = new FakeSession(clock);
        session.Contact();
        var lease = new HandOutLease(session, clock);
        lease.Joined(session.SessionId);
        return (clock, session, lease);
    }

    /// <summary>Moves the clock in steps small enough that the progress watch sees no gap.</summary>
    private static void Progress(FakeTimeProvider clock, HandOutLease lease, TimeSpan span)
    {
        for (var t = TimeSpan.Zero; t < span; t += TimeSpan.FromMilliseconds(100))
        {
            clock.Advance(TimeSpan.FromMilliseconds(100));
            lease.Tick();
        }
    }

    [Fact]
    public void A_stale_session_hands_out_nothing_until_a_server_answers_again()
    {
        var (clock, session, lease) = Joined();
        Assert.True(lease.MayHandOut(lease.Gaps));
        Assert.False(lease.NeedsConfirmation(out _));

        Progress(clock, lease, TimeSpan.FromMilliseconds(1900));
        Assert.True(lease.MayHandOut(lease.Gaps));
        // No fresh contact for the session timeout less the margin: the claims may be gone.
        Progress(clock, lease, TimeSpan.FromMilliseconds(100));
        Assert.False(lease.IsFresh);
        Assert.False(lease.MayHandOut(lease.Gaps));
        Assert.True(lease.NeedsConfirmation(out _));

        session.Contact();
        Assert.True(lease.MayHandOut(lease.Gaps));
        Assert.False(lease.NeedsConfirmation(out _));
    }

    [Fact]
    public void A_session_other_than_the_one_that_joined_hands_out_nothing_until_the_member_joins_under_it()
    {
        var (_, session, lease) = Joined();
        session.SessionId = 8; // the old session expired and a new one took its place; the claims went with the old one
        session.Contact();
        Assert.False(lease.MayHandOut(lease.Gaps));
        session.SessionId = 0;
        Assert.False(lease.MayHandOut(lease.Gaps));

        session.SessionId = 8;
        lease.Joined(7); // the session changed during the join: nothing is trusted
        Assert.False(lease.MayHandOut(lease.Gaps));
        lease.Joined(8);
        Assert.True(lease.MayHandOut(lease.Gaps));
    }

    [Fact]
    public void A_gap_in_progress_refuses_what_was_fetched_before_it_and_asks_for_a_drop_and_a_confirmation()
    {
        var (clock, session, lease) = Joined();
        var beforeFetch = lease.Gaps;

        // Frozen for longer than the margin; a reply read right after the thaw makes the contact look fresh.
        clock.Advance(TimeSpan.FromMilliseconds(1500));
        session.Contact();
        Assert.True(lease.IsFresh);
        // The watch has not run yet after the thaw: the gap is seen all the same.
        Assert.False(lease.MayHandOut(beforeFetch));
        Assert.True(lease.NeedsConfirmation(out _));

        lease.Tick();
        Assert.Equal(beforeFetch + 1, lease.Gaps);
        Assert.False(lease.MayHandOut(beforeFetch));
        Assert.True(lease.NeedsConfirmation(out var seen));

        // The consumer dropped its prefetched records and confirmed its session and claims.
        lease.Confirmed(seen);
        Assert.False(lease.NeedsConfirmation(out _));
        Assert.False(lease.MayHandOut(beforeFetch)); // records fetched before the gap stay refused
        var afterConfirm = lease.Gaps;
        Progress(clock, lease, TimeSpan.FromMilliseconds(500));
        Assert.True(lease.MayHandOut(afterConfirm));
        Assert.Equal(afterConfirm, lease.Gaps);
    }

    [Fact]
    public void A_gap_during_the_confirmation_itself_is_not_erased_by_it()
    {
        var (clock, session, lease) = Joined();
        clock.Advance(TimeSpan.FromMilliseconds(1500));
        lease.Tick();
        Assert.True(lease.NeedsConfirmation(out var seen));
        var beforeFetch = lease.Gaps;

        // Frozen again while the confirmation's round trip was under way; an answer is read after the thaw.
        clock.Advance(TimeSpan.FromMilliseconds(1500));
        session.Contact();
        lease.Confirmed(seen);

        // The second gap is still to be confirmed, and what was fetched before it is refused.
        Assert.True(lease.NeedsConfirmation(out var again));
        Assert.False(lease.MayHandOut(beforeFetch));
        lease.Confirmed(again);
        Assert.False(lease.NeedsConfirmation(out _));
        Assert.True(lease.MayHandOut(lease.Gaps));
    }

    [Fact]
    public void A_session_replaced_while_the_check_reads_it_is_not_fresh()
    {
        var (clock, session, lease) = Joined();
        Progress(clock, lease, TimeSpan.FromMilliseconds(2500));
        Assert.False(lease.IsFresh);
        // The old session expired and the client established a new one between the check's two reads: the contact it
        // reads is the new session's handshake, just now.
        session.OnContactRead = () => session.SessionId = 8;
        session.Contact();
        session.SessionId = 7;
        Assert.False(lease.IsFresh);
        Assert.False(lease.MayHandOut(lease.Gaps));
    }

    [Fact]
    public void A_late_tick_within_the_margin_is_no_gap()
    {
        var (clock, _, lease) = Joined();
        clock.Advance(TimeSpan.FromMilliseconds(900));
        lease.Tick();
        Assert.Equal(0, lease.Gaps);
        Assert.False(lease.NeedsConfirmation(out _));
    }

    [Fact]
    public void A_store_without_a_session_lease_is_trusted()
    {
        var lease = new HandOutLease(null, new FakeTimeProvider());
        lease.Joined(0);
        Assert.True(lease.IsFresh);
        Assert.True(lease.MayHandOut(lease.Gaps));
        Assert.False(lease.NeedsConfirmation(out _));
    }

    [Fact]
    public void A_commit_approved_before_a_gap_is_refused_after_it_even_once_the_gap_is_counted_and_confirmed()
    {
        var (clock, session, lease) = Joined();
        var approved = lease.Gaps;
        Progress(clock, lease, TimeSpan.FromMilliseconds(500));
        Assert.True(lease.NoGapSince(approved));

        // Frozen past the margin: refused while the gap goes on, and after the watch has counted it.
        clock.Advance(TimeSpan.FromSeconds(1.5));
        Assert.False(lease.NoGapSince(approved));
        lease.Tick();
        Assert.False(lease.NoGapSince(approved));

        // A confirmation after the gap does not bring the old approval back; a new one is fine.
        session.Contact();
        lease.Confirmed(lease.Gaps);
        Assert.False(lease.NoGapSince(approved));
        Assert.True(lease.NoGapSince(lease.Gaps));
    }
}
