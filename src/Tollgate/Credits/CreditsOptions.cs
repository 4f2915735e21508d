namespace Tollgate.Credits;

/// <summary>Credits and billing (<c>Tollgate:Credits</c>).</summary>
internal sealed class CreditsOptions
{
    public const string Section = "Tollgate:Credits";

    /// <summary>USD every new account starts with (a <c>grant</c> by <c>signup</c>).</summary>
    public decimal InitialCredits { get; set; }

    /// <summary>
    /// Also survive power loss: each request waits for the group commit that fsyncs its record
    /// (SQLite <c>synchronous=FULL</c>), and there is no journal. Off (the default), a record is
    /// appended to the usage journal — it reaches the operating system before the answer's last
    /// byte, which survives a crash of Tollgate (<c>kill -9</c>) but not of the machine — and is
    /// committed to the database in batches, off the request path.
    /// </summary>
    public bool FsyncEachCommit { get; set; }

    /// <summary>
    /// Where the usage journal's segment files go, as a path prefix (<c>{prefix}.00000001.journal</c>).
    /// Default: next to the SQLite database (<c>data/tollgate.db.usage.*.journal</c>).
    /// </summary>
    public string? JournalPath { get; set; }

    /// <summary>Most usage records written in one group commit.</summary>
    public int MaxBatch { get; set; } = 512;

    /// <summary>
    /// How long a reservation may outlive its request: once the client of a request is gone, its
    /// handler has this long to settle or release what it reserved before the sweeper releases it
    /// (the handler hung). A request whose client is still connected is never swept, however long it runs.
    /// </summary>
    public TimeSpan ReservationTimeout { get; set; } = TimeSpan.FromMinutes(30);

    internal IEnumerable<string> Validate()
    {
        if (InitialCredits is < 0 or > 1_000_000)
        {
            yield return $"{Section}:InitialCredits must be between 0 and 1000000 (USD)";
        }

        if (MaxBatch is < 1 or > 10_000)
        {
            yield return $"{Section}:MaxBatch must be between 1 and 10000";
        }

        if (ReservationTimeout < TimeSpan.FromSeconds(1) || ReservationTimeout > TimeSpan.FromDays(1))
        {
            yield return $"{Section}:ReservationTimeout must be between 00:00:01 and 1.00:00:00";
        }
    }
}
