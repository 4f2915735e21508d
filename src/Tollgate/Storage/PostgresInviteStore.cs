using Npgsql;
using Tollgate.Accounts;

namespace Tollgate.Storage;

/// <summary>Invites in PostgreSQL; ids break ties bytewise (<c>COLLATE "C"</c>), as in SQLite.</summary>
internal sealed class PostgresInviteStore(PostgresDatabase database) : IInviteStore
{
    private const string Columns = "id, email, role, created_by, created_at, expires_at, used_at, used_by";

    public async Task InsertAsync(Invite invite, string tokenHash, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        await using var command = connection.Command(
            """
            INSERT INTO invites (id, token_hash, email, role, created_by, created_at, expires_at)
            VALUES (@id, @hash, @email, @role, @by, @created, @expires)
            """,
            ("@id", invite.Id), ("@hash", tokenHash), ("@email", invite.Email), ("@role", AccountRoles.ToName(invite.Role)),
            ("@by", invite.CreatedBy), ("@created", invite.CreatedAt.ToUnixMs()), ("@expires", invite.ExpiresAt.ToUnixMs()));
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    public async Task<Invite?> FindByTokenHashAsync(string tokenHash, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        await using var command = connection.Command($"SELECT {Columns} FROM invites WHERE token_hash = @hash", ("@hash", tokenHash));
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        return await reader.ReadAsync(cancellationToken) ? Read(reader) : null;
    }

    public async Task<IReadOnlyList<Invite>> ListAsync(int limit, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        await using var command = connection.Command(
            $"SELECT {Columns} FROM invites ORDER BY created_at DESC, id COLLATE \"C\" DESC LIMIT @limit", ("@limit", limit));
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var invites = new List<Invite>();
        while (await reader.ReadAsync(cancellationToken))
        {
            invites.Add(Read(reader));
        }

        return invites;
    }

    public async Task<bool> RevokeAsync(string inviteId, DateTimeOffset now, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        await using var command = connection.Command(
            "UPDATE invites SET expires_at = @now WHERE id = @id AND used_at IS NULL AND expires_at > @now", ("@now", now.ToUnixMs()), ("@id", inviteId));
        return await command.ExecuteNonQueryAsync(cancellationToken) == 1;
    }

    public async Task RevokeServerInvitesAsync(DateTimeOffset now, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        await using var command = connection.Command(
            "UPDATE invites SET expires_at = @now WHERE created_by IS NULL AND used_at IS NULL AND expires_at > @now", ("@now", now.ToUnixMs()));
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    private static Invite Read(NpgsqlDataReader reader)
    {
        _ = AccountRoles.TryParse(reader.GetString(2), out var role);
        return new Invite
        {
            Id = reader.GetString(0),
            Email = reader.ReadNullableString(1),
            Role = role,
            CreatedBy = reader.ReadNullableString(3),
            CreatedAt = reader.ReadTime(4),
            ExpiresAt = reader.ReadTime(5),
            UsedAt = reader.ReadNullableTime(6),
            UsedBy = reader.ReadNullableString(7),
        };
    }
}
