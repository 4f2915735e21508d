using System.Text.Json;
using Npgsql;
using Tollgate.ApiKeys;

namespace Tollgate.Storage;

/// <summary>
/// API keys in PostgreSQL. Every change to a key row raises its <c>version</c> (caches on other instances compare it);
/// writing last-used times does not. Ids break ties bytewise (<c>COLLATE "C"</c>), as in SQLite.
/// </summary>
internal sealed class PostgresApiKeyStore(PostgresDatabase database) : IApiKeyStore
{
    private const string Columns =
        "id, account_id, name, label, scopes, models, disabled, limit_nanos, limit_reset, rate_limit_rpm, " +
        "created_at, last_used_at, expires_at, previous_secret_hash, previous_valid_until";

    public async Task InsertAsync(ApiKey key, string secretHash, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        await using var command = connection.Command(
            """
            INSERT INTO api_keys (id, account_id, name, label, secret_hash, scopes, models, disabled,
                                  limit_nanos, limit_reset, rate_limit_rpm, created_at, expires_at)
            VALUES (@id, @account, @name, @label, @hash, @scopes, @models, @disabled,
                    @limit, @reset, @rpm, @created, @expires)
            """,
            ("@id", key.Id), ("@account", key.AccountId), ("@name", key.Name), ("@label", key.Label),
            ("@hash", secretHash), ("@scopes", ApiKeyScopeNames.ToStorage(key.Scopes)), ("@models", ModelsToStorage(key.Models)),
            ("@disabled", key.Disabled), ("@limit", key.LimitNanos), ("@reset", key.LimitReset),
            ("@rpm", key.RateLimitRequestsPerMinute), ("@created", key.CreatedAt.ToUnixMs()), ("@expires", key.ExpiresAt.ToUnixMs()));
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    public async Task<ApiKeyMatch?> FindBySecretHashAsync(string secretHash, DateTimeOffset now, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken);

        // The previous-secret branch runs only when the current-secret lookup finds nothing (LIMIT 1 over UNION ALL).
        await using var command = connection.Command(
            $"""
            SELECT {Columns} FROM (
                (SELECT {Columns} FROM api_keys WHERE secret_hash = @hash AND deleted_at IS NULL)
                UNION ALL
                (SELECT {Columns} FROM api_keys
                 WHERE previous_secret_hash = @hash AND previous_valid_until > @now AND deleted_at IS NULL)
                LIMIT 1) AS k
            -- The keys of a disabled account do not work at all.
            WHERE NOT EXISTS (SELECT 1 FROM accounts WHERE accounts.id = k.account_id AND accounts.disabled)
            """,
            ("@hash", secretHash), ("@now", now.ToUnixMs()));
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        if (!await reader.ReadAsync(cancellationToken))
        {
            return null;
        }

        var key = Read(reader);
        var viaPrevious = reader.ReadNullableString(13) == secretHash;
        return new ApiKeyMatch(key, viaPrevious ? reader.ReadNullableTime(14) : null);
    }

    public async Task<ApiKey?> GetAsync(string accountId, string keyId, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        await using var command = connection.Command(
            $"SELECT {Columns} FROM api_keys WHERE id = @id AND account_id = @account AND deleted_at IS NULL",
            ("@id", keyId), ("@account", accountId));
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        return await reader.ReadAsync(cancellationToken) ? Read(reader) : null;
    }

    public async Task<IReadOnlyList<ApiKey>> ListAsync(string accountId, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        await using var command = connection.Command(
            $"SELECT {Columns} FROM api_keys WHERE account_id = @account AND deleted_at IS NULL ORDER BY created_at, id COLLATE \"C\"",
            ("@account", accountId));
        return await ReadAllAsync(command, cancellationToken);
    }

    public async Task<int> CountAsync(string accountId, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        await using var command = connection.Command(
            "SELECT COUNT(*)::int FROM api_keys WHERE account_id = @account AND deleted_at IS NULL", ("@account", accountId));
        return (int)(await command.ExecuteScalarAsync(cancellationToken))!;
    }

    public async Task<IReadOnlyList<ApiKey>> ListPageAsync(string accountId, KeyListQuery query, DateTimeOffset now, CancellationToken cancellationToken)
    {
        var status = query.Status switch
        {
            KeyStatusFilter.Active => "AND NOT disabled AND (expires_at IS NULL OR expires_at > @now)",
            KeyStatusFilter.Disabled => "AND disabled",
            KeyStatusFilter.Expired => "AND NOT disabled AND expires_at <= @now",
            _ => "",
        };
        await using var connection = await database.OpenAsync(cancellationToken);
        await using var command = connection.Command(
            $"""
            SELECT {Columns} FROM api_keys
            WHERE account_id = @account AND deleted_at IS NULL {status}
              AND (@after_at::bigint IS NULL OR created_at < @after_at OR (created_at = @after_at AND id COLLATE "C" < @after_id::text))
              AND (@search::text IS NULL OR strpos(lower(name), @search) > 0 OR strpos(lower(label), @search) > 0)
            ORDER BY created_at DESC, id COLLATE "C" DESC LIMIT @limit
            """,
            ("@account", accountId), ("@now", now.ToUnixMs()), ("@after_at", query.After?.CreatedAt.ToUnixMs()), ("@after_id", query.After?.Id),
            ("@search", string.IsNullOrWhiteSpace(query.Search) ? null : query.Search.Trim().ToLowerInvariant()), ("@limit", query.Limit));
        return await ReadAllAsync(command, cancellationToken);
    }

    public async Task<KeyHygiene> CountHygieneAsync(string accountId, DateTimeOffset now, DateTimeOffset unusedSince, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        await using var command = connection.Command(
            """
            SELECT COUNT(*)::int,
                   (COUNT(*) FILTER (WHERE limit_nanos IS NULL))::int,
                   (COUNT(*) FILTER (WHERE expires_at IS NULL))::int,
                   (COUNT(*) FILTER (WHERE COALESCE(last_used_at, created_at) < @since))::int
            FROM api_keys WHERE account_id = @account AND deleted_at IS NULL
            """,
            ("@account", accountId), ("@since", unusedSince.ToUnixMs()));
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        await reader.ReadAsync(cancellationToken);
        return new KeyHygiene(reader.GetInt32(0), reader.GetInt32(1), reader.GetInt32(2), reader.GetInt32(3));
    }

    public async Task<bool> UpdateAsync(ApiKey key, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        await using var command = connection.Command(
            """
            UPDATE api_keys SET name = @name, scopes = @scopes, models = @models, disabled = @disabled,
                   limit_nanos = @limit, limit_reset = @reset, rate_limit_rpm = @rpm, expires_at = @expires,
                   version = version + 1
            WHERE id = @id AND account_id = @account AND deleted_at IS NULL
            """,
            ("@id", key.Id), ("@account", key.AccountId), ("@name", key.Name),
            ("@scopes", ApiKeyScopeNames.ToStorage(key.Scopes)), ("@models", ModelsToStorage(key.Models)),
            ("@disabled", key.Disabled), ("@limit", key.LimitNanos), ("@reset", key.LimitReset),
            ("@rpm", key.RateLimitRequestsPerMinute), ("@expires", key.ExpiresAt.ToUnixMs()));
        return await command.ExecuteNonQueryAsync(cancellationToken) == 1;
    }

    public async Task<bool> RotateAsync(string accountId, string keyId, string newSecretHash, string newLabel,
        DateTimeOffset? previousValidUntil, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        await using var command = connection.Command(
            """
            UPDATE api_keys
            SET previous_secret_hash = CASE WHEN @until::bigint IS NULL THEN NULL ELSE secret_hash END,
                previous_valid_until = @until,
                secret_hash = @hash,
                label = @label,
                version = version + 1
            WHERE id = @id AND account_id = @account AND deleted_at IS NULL
            """,
            ("@id", keyId), ("@account", accountId), ("@hash", newSecretHash), ("@label", newLabel),
            ("@until", previousValidUntil.ToUnixMs()));
        return await command.ExecuteNonQueryAsync(cancellationToken) == 1;
    }

    public async Task<bool> DeleteAsync(string accountId, string keyId, DateTimeOffset now, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        await using var command = connection.Command(
            """
            UPDATE api_keys SET deleted_at = @now, previous_secret_hash = NULL, previous_valid_until = NULL, version = version + 1
            WHERE id = @id AND account_id = @account AND deleted_at IS NULL
            """,
            ("@id", keyId), ("@account", accountId), ("@now", now.ToUnixMs()));
        return await command.ExecuteNonQueryAsync(cancellationToken) == 1;
    }

    public async Task RecordLastUsedAsync(IReadOnlyCollection<KeyValuePair<string, DateTimeOffset>> lastUsed, CancellationToken cancellationToken)
    {
        if (lastUsed.Count == 0)
        {
            return;
        }

        await using var connection = await database.OpenAsync(cancellationToken);

        // One round trip, one implicit transaction; rows are locked in id order so that instances flushing the same keys
        // at the same time wait for each other instead of deadlocking.
        await using var batch = new NpgsqlBatch(connection);
        foreach (var (id, at) in lastUsed.OrderBy(pair => pair.Key, StringComparer.Ordinal))
        {
            var command = new NpgsqlBatchCommand("UPDATE api_keys SET last_used_at = GREATEST(COALESCE(last_used_at, 0), @at) WHERE id = @id");
            command.Parameters.AddWithValue("id", id);
            command.Parameters.AddWithValue("at", at.ToUnixMs());
            batch.BatchCommands.Add(command);
        }

        await batch.ExecuteNonQueryAsync(cancellationToken);
    }

    private static string? ModelsToStorage(IReadOnlyList<string>? models) =>
        models is null ? null : JsonSerializer.Serialize(models, StorageJsonContext.Default.IReadOnlyListString);

    private static async Task<IReadOnlyList<ApiKey>> ReadAllAsync(NpgsqlCommand command, CancellationToken cancellationToken)
    {
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var keys = new List<ApiKey>();
        while (await reader.ReadAsync(cancellationToken))
        {
            keys.Add(Read(reader));
        }

        return keys;
    }

    private static ApiKey Read(NpgsqlDataReader reader) => new()
    {
        Id = reader.GetString(0),
        AccountId = reader.GetString(1),
        Name = reader.GetString(2),
        Label = reader.GetString(3),
        Scopes = ApiKeyScopeNames.FromStorage(reader.GetString(4)),
        Models = reader.IsDBNull(5) ? null : JsonSerializer.Deserialize(reader.GetString(5), StorageJsonContext.Default.IReadOnlyListString),
        Disabled = reader.GetBoolean(6),
        LimitNanos = reader.ReadNullableInt64(7),
        LimitReset = reader.ReadNullableString(8),
        RateLimitRequestsPerMinute = reader.IsDBNull(9) ? null : reader.GetInt32(9),
        CreatedAt = reader.ReadTime(10),
        LastUsedAt = reader.ReadNullableTime(11),
        ExpiresAt = reader.ReadNullableTime(12),
    };
}
