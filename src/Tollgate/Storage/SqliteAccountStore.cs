using Microsoft.Data.Sqlite;
using Tollgate.Accounts;

namespace Tollgate.Storage;

internal sealed class SqliteAccountStore(SqliteDatabase database) : IAccountStore
{
    private const string Columns = "id, email, display_name, role, created_at";

    public async Task<bool> InsertAsync(Account account, string passwordHash, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        using var command = connection.Command(
            """
            INSERT INTO accounts (id, email, email_normalized, display_name, role, password_hash, created_at)
            VALUES (@id, @email, @normalized, @name, @role, @hash, @created)
            ON CONFLICT (email_normalized) DO NOTHING
            """,
            ("@id", account.Id), ("@email", account.Email), ("@normalized", Normalize(account.Email)),
            ("@name", account.DisplayName), ("@role", AccountRoles.ToName(account.Role)),
            ("@hash", passwordHash), ("@created", account.CreatedAt.ToUnixMs()));
        return await command.ExecuteNonQueryAsync(cancellationToken) == 1;
    }

    public Task<Account?> FindByEmailAsync(string email, CancellationToken cancellationToken) =>
        FindOneAsync($"SELECT {Columns} FROM accounts WHERE email_normalized = @value", Normalize(email), cancellationToken);

    public Task<Account?> FindByIdAsync(string id, CancellationToken cancellationToken) =>
        FindOneAsync($"SELECT {Columns} FROM accounts WHERE id = @value", id, cancellationToken);

    public async Task<string?> GetPasswordHashAsync(string accountId, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        using var command = connection.Command("SELECT password_hash FROM accounts WHERE id = @id", ("@id", accountId));
        return await command.ExecuteScalarAsync(cancellationToken) as string;
    }

    public async Task<IReadOnlyList<Account>> ListAsync(CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        using var command = connection.Command($"SELECT {Columns} FROM accounts ORDER BY created_at, id");
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var accounts = new List<Account>();
        while (await reader.ReadAsync(cancellationToken))
        {
            accounts.Add(Read(reader));
        }

        return accounts;
    }

    public async Task<int> CountAsync(CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        using var command = connection.Command("SELECT COUNT(*) FROM accounts");
        return Convert.ToInt32(await command.ExecuteScalarAsync(cancellationToken), System.Globalization.CultureInfo.InvariantCulture);
    }

    internal static string Normalize(string email) => email.Trim().ToLowerInvariant();

    private async Task<Account?> FindOneAsync(string sql, string value, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        using var command = connection.Command(sql, ("@value", value));
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        return await reader.ReadAsync(cancellationToken) ? Read(reader) : null;
    }

    private static Account Read(SqliteDataReader reader)
    {
        _ = AccountRoles.TryParse(reader.GetString(3), out var role);
        return new Account
        {
            Id = reader.GetString(0),
            Email = reader.GetString(1),
            DisplayName = reader.GetString(2),
            Role = role,
            CreatedAt = reader.ReadTime(4),
        };
    }
}
