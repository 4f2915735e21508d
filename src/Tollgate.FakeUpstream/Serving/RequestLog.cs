namespace Tollgate.FakeUpstream.Serving;

/// <summary>What tests observe: the requests received and how many were cancelled by the client.</summary>
internal sealed class RequestLog
{
    private readonly Lock _lock = new();
    private readonly List<ReceivedRequest> _requests = [];
    private readonly List<(int Count, TaskCompletionSource Reached)> _waiters = [];
    private int _cancelled;

    public IReadOnlyList<ReceivedRequest> Requests
    {
        get
        {
            lock (_lock)
            {
                return _requests.ToArray();
            }
        }
    }

    public int CancelledRequests => Volatile.Read(ref _cancelled);

    public void Add(ReceivedRequest request)
    {
        lock (_lock)
        {
            _requests.Add(request);
        }
    }

    public void Clear()
    {
        lock (_lock)
        {
            _requests.Clear();
        }
    }

    public void CountCancelled()
    {
        lock (_lock)
        {
            var cancelled = Interlocked.Increment(ref _cancelled);
            foreach (var waiter in _waiters.Where(w => w.Count <= cancelled).ToArray())
            {
                _waiters.Remove(waiter);
                waiter.Reached.TrySetResult();
            }
        }
    }

    public async Task WaitForCancelledAsync(int count, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var waiter = (count, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));
        lock (_lock)
        {
            if (_cancelled >= count)
            {
                return;
            }

            _waiters.Add(waiter);
        }

        try
        {
            await waiter.Item2.Task.WaitAsync(timeout, cancellationToken);
        }
        catch (TimeoutException)
        {
            throw new TimeoutException(
                $"Expected {count} cancelled request(s) within {timeout.TotalSeconds:0.###} s; saw {CancelledRequests}.");
        }
        finally
        {
            lock (_lock)
            {
                _waiters.Remove(waiter);
            }
        }
    }
}
