using Npgsql;

namespace Tollgate.Storage;

/// <summary>
/// The PostgreSQL connection pool (one <see cref="NpgsqlDataSource"/> per process). Every instance of a
/// cluster opens its own; PostgreSQL is where they agree on money, keys and accounts.
/// </summary>
internal sealed class PostgresDatabase : IAsyncDisposable
{
    public PostgresDatabase(string connectionString, int maxPoolSize)
    {
        var builder = new NpgsqlConnectionStringBuilder(connectionString)
        {
            MaxPoolSize = maxPoolSize,
            // Statements are prepared once per physical connection, then reused: the hot ones run thousands of times a second.
            MaxAutoPrepare = 64,
            AutoPrepareMinUsages = 2,
            NoResetOnClose = true,
        };
        if (string.IsNullOrEmpty(builder.ApplicationName))
        {
            builder.ApplicationName = "tollgate";
        }

        DataSource = new NpgsqlDataSourceBuilder(builder.ConnectionString).Build();
        Description = $"{builder.Host}:{builder.Port}/{builder.Database}";
    }

    public NpgsqlDataSource DataSource { get; }

    /// <summary>Host, port and database, never the password: for logs.</summary>
    public string Description { get; }

    public ValueTask<NpgsqlConnection> OpenAsync(CancellationToken cancellationToken) => DataSource.OpenConnectionAsync(cancellationToken);

    public ValueTask DisposeAsync() => DataSource.DisposeAsync();
}

/// <summary>Small helpers that keep the PostgreSQL stores free of ADO.NET noise (the twin of <see cref="SqliteCommands"/>).</summary>
internal static class PostgresCommands
{
    /// <summary>A command with positional-free named parameters (<c>@name</c>).</summary>
    public static NpgsqlCommand Command(this NpgsqlConnection connection, string sql, params (string Name, object? Value)[] parameters)
    {
        var command = connection.CreateCommand();
        command.CommandText = sql;
        foreach (var (name, value) in parameters)
        {
            command.Parameters.AddWithValue(name.TrimStart('@'), value ?? DBNull.Value);
        }

        return command;
    }

    public static DateTimeOffset ReadTime(this NpgsqlDataReader reader, int ordinal) =>
        DateTimeOffset.FromUnixTimeMilliseconds(reader.GetInt64(ordinal));

    public static DateTimeOffset? ReadNullableTime(this NpgsqlDataReader reader, int ordinal) =>
        reader.IsDBNull(ordinal) ? null : DateTimeOffset.FromUnixTimeMilliseconds(reader.GetInt64(ordinal));

    public static string? ReadNullableString(this NpgsqlDataReader reader, int ordinal) =>
        reader.IsDBNull(ordinal) ? null : reader.GetString(ordinal);

    public static long? ReadNullableInt64(this NpgsqlDataReader reader, int ordinal) =>
        reader.IsDBNull(ordinal) ? null : reader.GetInt64(ordinal);

    /// <summary>True for errors a retry of the whole transaction fixes: a deadlock or a serialization failure.</summary>
    public static bool IsTransient(this PostgresException exception) =>
        exception.SqlState is PostgresErrorCodes.DeadlockDetected or PostgresErrorCodes.SerializationFailure;
}
