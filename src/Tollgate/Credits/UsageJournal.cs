using System.Text.Json;
using System.Text.Json.Serialization;

namespace Tollgate.Credits;

/// <summary>
/// The usage records (and so the charges) handed in but not yet committed to the database, as
/// an append-only file: one JSON line per record, appended with one <c>write</c> to the operating
/// system before the answer's last byte. That survives <c>kill -9</c> of Tollgate a moment later
/// exactly as a committed SQLite transaction (<c>synchronous=NORMAL</c>) does, for the cost of a
/// system call instead of a transaction; the database gets the records in large batches, off the
/// request path. At start, whatever the journal holds is written to the database again (writes
/// are idempotent per generation id) before the server takes requests.
/// </summary>
/// <remarks>
/// The journal is a series of segment files <c>{prefix}.{sequence}.journal</c>. Appends go to the
/// newest; past <see cref="SegmentBytes"/> a new one starts. A segment is deleted once every record
/// in it is in the database. Nothing is opened until <see cref="Open"/>, so the command line,
/// which never starts the writer, does not touch a running server's journal.
/// </remarks>
internal sealed class UsageJournal(string prefix) : IDisposable
{
    /// <summary>A segment grows to about this size before the next one starts.</summary>
    public const long SegmentBytes = 8 * 1024 * 1024;

    private readonly Lock _gate = new();
    private readonly List<long> _sealed = [];
    private FileStream? _current;
    private long _currentSequence;
    private FileStream? _lock;

    public string Prefix { get; } = Path.GetFullPath(prefix);

    /// <summary>
    /// Takes the journal for this process (an exclusive lock on <c>{prefix}.lock</c>, released when the
    /// process ends, however it ends). A second server on the same database would otherwise replay
    /// and delete the journal of the first while it runs: it is refused instead.
    /// </summary>
    /// <exception cref="IOException">Another process holds the journal.</exception>
    public void Acquire()
    {
        lock (_gate)
        {
            if (_lock is not null)
            {
                return;
            }

            Directory.CreateDirectory(Path.GetDirectoryName(Prefix)!);
            try
            {
                _lock = new FileStream(Prefix + ".lock", FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
            }
            catch (IOException exception)
            {
                throw new IOException(
                    $"Another Tollgate server is running on the same database (it holds {Prefix}.lock). Stop it, or give this one its own Tollgate:Storage:SqlitePath.",
                    exception);
            }
        }
    }

    /// <summary>The segments on disk, oldest first.</summary>
    public IReadOnlyList<(long Sequence, string Path)> Segments()
    {
        var directory = Path.GetDirectoryName(Prefix)!;
        if (!Directory.Exists(directory))
        {
            return [];
        }

        var name = Path.GetFileName(Prefix) + ".";
        return Directory.EnumerateFiles(directory, name + "*.journal")
            .Select(path => (Sequence: long.TryParse(Path.GetFileName(path)[name.Length..^".journal".Length], out var sequence) ? sequence : -1, Path: path))
            .Where(segment => segment.Sequence >= 0)
            .OrderBy(segment => segment.Sequence)
            .ToList();
    }

    /// <summary>The records in a segment; a line that cannot be read (torn by a crash of the machine) is skipped and counted.</summary>
    public static IEnumerable<UsageRecord> Read(string path, Action onUnreadable)
    {
        foreach (var line in File.ReadLines(path))
        {
            UsageRecord? record;
            try
            {
                record = line.Length == 0 ? null : JsonSerializer.Deserialize(line, UsageJournalJson.Default.UsageRecord);
            }
            catch (JsonException)
            {
                record = null;
            }

            if (record is null)
            {
                if (line.Length > 0)
                {
                    onUnreadable();
                }

                continue;
            }

            yield return record;
        }
    }

    /// <summary>
    /// Starts a new segment numbered after every existing one and after <paramref name="after"/> (the last
    /// segment replayed, perhaps deleted since), so a new segment never reuses a replayed one's name.
    /// </summary>
    public void Open(long after = 0)
    {
        lock (_gate)
        {
            var last = Segments() is { Count: > 0 } segments ? Math.Max(after, segments[^1].Sequence) : after;
            StartSegment(last + 1);
        }
    }

    /// <summary>Serialises a record into one line (outside any lock).</summary>
    public static byte[] Serialize(UsageRecord record)
    {
        var json = JsonSerializer.SerializeToUtf8Bytes(record, UsageJournalJson.Default.UsageRecord);
        Array.Resize(ref json, json.Length + 1);
        json[^1] = (byte)'\n';
        return json;
    }

    /// <summary>
    /// Appends one line with one write to the operating system and, under the same lock, runs
    /// <paramref name="then"/> (the writer queues the record there, so the queue's order is the
    /// journal's). Returns the segment's sequence number.
    /// </summary>
    public long Append(byte[] line, Action<long> then)
    {
        lock (_gate)
        {
            var current = _current ?? throw new InvalidOperationException("The usage journal is not open");
            if (current.Length + line.Length > SegmentBytes && current.Length > 0)
            {
                // The next segment is open before this one is let go: if it cannot be made, this one goes on.
                var sealedSequence = _currentSequence;
                var next = StartSegment(sealedSequence + 1);
                current.Dispose();
                _sealed.Add(sealedSequence);
                current = next;
            }

            current.Write(line);
            then(_currentSequence);
            return _currentSequence;
        }
    }

    /// <summary>Deletes the finished segments older than <paramref name="sequence"/>: everything in them is in the database.</summary>
    public void ReleaseBefore(long sequence)
    {
        List<long> done;
        lock (_gate)
        {
            done = _sealed.Where(s => s < sequence).ToList();
            _sealed.RemoveAll(s => s < sequence);
        }

        foreach (var segment in done)
        {
            File.Delete(PathOf(segment));
        }
    }

    /// <summary>Closes the journal and deletes every segment: called once everything appended is in the database.</summary>
    public void DeleteAll()
    {
        lock (_gate)
        {
            _current?.Dispose();
            _current = null;
            foreach (var segment in _sealed.Append(_currentSequence))
            {
                File.Delete(PathOf(segment));
            }

            _sealed.Clear();
        }
    }

    public string PathOf(long sequence) => $"{Prefix}.{sequence:D8}.journal";

    private FileStream StartSegment(long sequence)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(Prefix)!);

        // Unbuffered: each Write is one write(2), in the operating system when it returns.
        var segment = new FileStream(PathOf(sequence), FileMode.CreateNew, FileAccess.Write, FileShare.Read, bufferSize: 0);
        _current = segment;
        _currentSequence = sequence;
        return segment;
    }

    public void Dispose()
    {
        lock (_gate)
        {
            _current?.Dispose();
            _current = null;
            _lock?.Dispose();
            _lock = null;
        }
    }
}

[JsonSourceGenerationOptions(DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(UsageRecord))]
internal sealed partial class UsageJournalJson : JsonSerializerContext;
