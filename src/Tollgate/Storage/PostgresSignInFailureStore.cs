using Tollgate.Accounts;

namespace Tollgate.Storage;

/// <summary>Failed sign-ins in PostgreSQL: one upsert per failure, so instances counting the same address agree.</summary>
internal sealed class PostgresSignInFailureStore(PostgresDatabase database) : ISignInFailureStore
{
    public async Task<DateTimeOffset?> LockedUntilAsync(string email, DateTimeOffset now, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        await using var command = connection.Command(
            "SELECT locked_until FROM sign_in_failures WHERE email_normalized = @email AND locked_until > @now",
            ("@email", PostgresAccountStore.Normalize(email)), ("@now", now.ToUnixMs()));
        return await command.ExecuteScalarAsync(cancellationToken) is long until ? DateTimeOffset.FromUnixTimeMilliseconds(until) : null;
    }

    public async Task<DateTimeOffset?> RecordFailureAsync(string email, DateTimeOffset now, int threshold, TimeSpan window, TimeSpan lockout,
        CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken);

        // One statement: a failure outside the window starts a new one; the threshold-th failure in it locks the address.
        await using var command = connection.Command(
            """
            INSERT INTO sign_in_failures AS f (email_normalized, failures, window_start, locked_until)
            VALUES (@email, 1, @now, CASE WHEN @threshold <= 1 THEN @until END)
            ON CONFLICT (email_normalized) DO UPDATE SET
                failures = CASE WHEN f.window_start <= @now - @window THEN 1 ELSE f.failures + 1 END,
                window_start = CASE WHEN f.window_start <= @now - @window THEN @now ELSE f.window_start END,
                locked_until = CASE
                    WHEN (CASE WHEN f.window_start <= @now - @window THEN 1 ELSE f.failures + 1 END) >= @threshold THEN @until
                    ELSE f.locked_until END
            RETURNING locked_until
            """,
            ("@email", PostgresAccountStore.Normalize(email)), ("@now", now.ToUnixMs()), ("@threshold", threshold),
            ("@window", (long)window.TotalMilliseconds), ("@until", (now + lockout).ToUnixMs()));
        return await command.ExecuteScalarAsync(cancellationToken) is long until && until > now.ToUnixMs()
            ? DateTimeOffset.FromUnixTimeMilliseconds(until)
            : null;
    }

    public async Task ResetAsync(string email, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        await using var command = connection.Command(
            "DELETE FROM sign_in_failures WHERE email_normalized = @email", ("@email", PostgresAccountStore.Normalize(email)));
        await command.ExecuteNonQueryAsync(cancellationToken);
    }
}
