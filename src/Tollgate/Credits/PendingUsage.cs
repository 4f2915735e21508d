namespace Tollgate.Credits;

/// <summary>
/// Usage records handed to <see cref="BillingWriter"/> but perhaps not yet in the database (they
/// are in the journal). Every read of billing data — balances, spend, generations, usage — waits
/// for them first, so what a client was charged is visible to its next read. The stores call
/// <see cref="WaitAsync"/>; the writer attaches itself (the indirection keeps the writer, which
/// needs a store, and the stores, which need the writer, out of a dependency cycle).
/// </summary>
internal sealed class PendingUsage
{
    private Func<CancellationToken, Task>? _flush;

    public void Attach(Func<CancellationToken, Task> flush) => _flush = flush;

    /// <summary>Completes once every record handed in before the call is in the database.</summary>
    public Task WaitAsync(CancellationToken cancellationToken) => _flush?.Invoke(cancellationToken) ?? Task.CompletedTask;
}
