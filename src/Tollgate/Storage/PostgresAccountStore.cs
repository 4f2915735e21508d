using Npgsql;
using Tollgate.Accounts;

namespace Tollgate.Storage;

/// <summary>
/// Accounts in PostgreSQL. Ids are compared and ordered with <c>COLLATE "C"</c> so that pages break ties bytewise, as
/// SQLite does, whatever the database's locale.
/// </summary>
internal sealed class PostgresAccountStore(PostgresDatabase database) : IAccountStore
{
    private const string Columns = "id, email, display_name, role, created_at, disabled, time_zone, security_stamp";

    private const string Insert =
        """
        INSERT INTO accounts (id, email, email_normalized, display_name, role, password_hash, created_at, time_zone, security_stamp)
        VALUES (@id, @email, @normalized, @name, @role, @hash, @created, @zone, @stamp)
        ON CONFLICT (email_normalized) DO NOTHING
        """;

    public async Task<bool> InsertAsync(Account account, string passwordHash, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        await using var command = InsertCommand(connection, account, passwordHash);
        return await command.ExecuteNonQueryAsync(cancellationToken) == 1;
    }

    public async Task<bool?> InsertWithInviteAsync(Account account, string passwordHash, string inviteId, DateTimeOffset now, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);

        // A concurrent use of the same invite waits for this row lock, then finds used_at set and updates nothing.
        await using var use = connection.Command(
            "UPDATE invites SET used_at = @now, used_by = @account WHERE id = @id AND used_at IS NULL AND expires_at > @now",
            ("@now", now.ToUnixMs()), ("@account", account.Id), ("@id", inviteId));
        if (await use.ExecuteNonQueryAsync(cancellationToken) != 1)
        {
            return null;
        }

        await using var insert = InsertCommand(connection, account, passwordHash);
        if (await insert.ExecuteNonQueryAsync(cancellationToken) != 1)
        {
            // The address is taken: the invite stays unused.
            return false;
        }

        await transaction.CommitAsync(cancellationToken);
        return true;
    }

    public Task<Account?> FindByEmailAsync(string email, CancellationToken cancellationToken) =>
        FindOneAsync($"SELECT {Columns} FROM accounts WHERE email_normalized = @value", Normalize(email), cancellationToken);

    public Task<Account?> FindByIdAsync(string id, CancellationToken cancellationToken) =>
        FindOneAsync($"SELECT {Columns} FROM accounts WHERE id = @value", id, cancellationToken);

    public async Task<string?> GetPasswordHashAsync(string accountId, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        await using var command = connection.Command("SELECT password_hash FROM accounts WHERE id = @id", ("@id", accountId));
        return await command.ExecuteScalarAsync(cancellationToken) as string;
    }

    public async Task<IReadOnlyList<Account>> ListAsync(CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        await using var command = connection.Command($"SELECT {Columns} FROM accounts ORDER BY created_at, id COLLATE \"C\"");
        return await ReadAllAsync(command, cancellationToken);
    }

    public async Task<IReadOnlyList<Account>> ListPageAsync(string? search, AccountCursor? after, int limit, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        await using var command = connection.Command(
            $"""
            SELECT {Columns} FROM accounts
            WHERE (@after_at::bigint IS NULL OR created_at > @after_at OR (created_at = @after_at AND id COLLATE "C" > @after_id::text))
              AND (@search::text IS NULL OR strpos(email_normalized, @search) > 0 OR strpos(lower(display_name), @search) > 0)
            ORDER BY created_at, id COLLATE "C" LIMIT @limit
            """,
            ("@after_at", after?.CreatedAt.ToUnixMs()), ("@after_id", after?.Id),
            ("@search", string.IsNullOrWhiteSpace(search) ? null : search.Trim().ToLowerInvariant()), ("@limit", limit));
        return await ReadAllAsync(command, cancellationToken);
    }

    public async Task<int> CountAsync(CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        await using var command = connection.Command("SELECT COUNT(*)::int FROM accounts");
        return (int)(await command.ExecuteScalarAsync(cancellationToken))!;
    }

    public Task<bool> UpdateProfileAsync(string accountId, string displayName, string timeZone, CancellationToken cancellationToken) =>
        ExecuteAsync("UPDATE accounts SET display_name = @name, time_zone = @zone WHERE id = @id", cancellationToken,
            ("@name", displayName), ("@zone", timeZone), ("@id", accountId));

    public Task<bool> SetPasswordAsync(string accountId, string passwordHash, string securityStamp, CancellationToken cancellationToken) =>
        ExecuteAsync("UPDATE accounts SET password_hash = @hash, security_stamp = @stamp WHERE id = @id", cancellationToken,
            ("@hash", passwordHash), ("@stamp", securityStamp), ("@id", accountId));

    public Task<bool> SetSecurityStampAsync(string accountId, string securityStamp, CancellationToken cancellationToken) =>
        ExecuteAsync("UPDATE accounts SET security_stamp = @stamp WHERE id = @id", cancellationToken, ("@stamp", securityStamp), ("@id", accountId));

    public Task<bool> SetRoleAsync(string accountId, AccountRole role, CancellationToken cancellationToken) =>
        ExecuteAsync("UPDATE accounts SET role = @role WHERE id = @id", cancellationToken, ("@role", AccountRoles.ToName(role)), ("@id", accountId));

    public Task<bool> SetDisabledAsync(string accountId, bool disabled, string securityStamp, CancellationToken cancellationToken) =>
        ExecuteAsync("UPDATE accounts SET disabled = @disabled, security_stamp = @stamp WHERE id = @id", cancellationToken,
            ("@disabled", disabled), ("@stamp", securityStamp), ("@id", accountId));

    public async Task<int> CountActiveWithRoleAsync(AccountRole role, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        await using var command = connection.Command(
            "SELECT COUNT(*)::int FROM accounts WHERE role = @role AND NOT disabled", ("@role", AccountRoles.ToName(role)));
        return (int)(await command.ExecuteScalarAsync(cancellationToken))!;
    }

    public async Task<string?> GetPlaygroundKeyIdAsync(string accountId, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        await using var command = connection.Command("SELECT playground_key_id FROM accounts WHERE id = @id", ("@id", accountId));
        return await command.ExecuteScalarAsync(cancellationToken) as string;
    }

    public Task SetPlaygroundKeyIdAsync(string accountId, string? keyId, CancellationToken cancellationToken) =>
        ExecuteAsync("UPDATE accounts SET playground_key_id = @key::text WHERE id = @id", cancellationToken, ("@key", keyId), ("@id", accountId));

    internal static string Normalize(string email) => SqliteAccountStore.Normalize(email);

    private static NpgsqlCommand InsertCommand(NpgsqlConnection connection, Account account, string passwordHash) =>
        connection.Command(Insert,
            ("@id", account.Id), ("@email", account.Email), ("@normalized", Normalize(account.Email)),
            ("@name", account.DisplayName), ("@role", AccountRoles.ToName(account.Role)),
            ("@hash", passwordHash), ("@created", account.CreatedAt.ToUnixMs()), ("@zone", account.TimeZone), ("@stamp", account.SecurityStamp));

    private async Task<bool> ExecuteAsync(string sql, CancellationToken cancellationToken, params (string Name, object? Value)[] parameters)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        await using var command = connection.Command(sql, parameters);
        return await command.ExecuteNonQueryAsync(cancellationToken) > 0;
    }

    private async Task<Account?> FindOneAsync(string sql, string value, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        await using var command = connection.Command(sql, ("@value", value));
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        return await reader.ReadAsync(cancellationToken) ? Read(reader) : null;
    }

    private static async Task<IReadOnlyList<Account>> ReadAllAsync(NpgsqlCommand command, CancellationToken cancellationToken)
    {
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var accounts = new List<Account>();
        while (await reader.ReadAsync(cancellationToken))
        {
            accounts.Add(Read(reader));
        }

        return accounts;
    }

    private static Account Read(NpgsqlDataReader reader)
    {
        _ = AccountRoles.TryParse(reader.GetString(3), out var role);
        return new Account
        {
            Id = reader.GetString(0),
            Email = reader.GetString(1),
            DisplayName = reader.GetString(2),
            Role = role,
            CreatedAt = reader.ReadTime(4),
            Disabled = reader.GetBoolean(5),
            TimeZone = reader.GetString(6),
            SecurityStamp = reader.GetString(7),
        };
    }
}
