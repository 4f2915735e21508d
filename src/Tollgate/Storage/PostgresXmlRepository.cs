using System.Xml.Linq;
using Microsoft.AspNetCore.DataProtection.Repositories;

namespace Tollgate.Storage;

/// <summary>
/// The data-protection key ring in PostgreSQL (<c>data_protection_keys</c>), shared by every instance, so a session
/// cookie made by one is read by all. Keys are added, never changed (ASP.NET Core revokes by adding an element).
/// </summary>
internal sealed class PostgresXmlRepository(PostgresDatabase database) : IXmlRepository
{
    public IReadOnlyCollection<XElement> GetAllElements()
    {
        using var connection = database.DataSource.OpenConnection();
        using var command = connection.Command("SELECT xml FROM data_protection_keys ORDER BY name");
        using var reader = command.ExecuteReader();
        var elements = new List<XElement>();
        while (reader.Read())
        {
            elements.Add(XElement.Parse(reader.GetString(0)));
        }

        return elements;
    }

    public void StoreElement(XElement element, string friendlyName)
    {
        using var connection = database.DataSource.OpenConnection();
        using var command = connection.Command(
            "INSERT INTO data_protection_keys (name, xml) VALUES (@name, @xml) ON CONFLICT (name) DO NOTHING",
            ("name", string.IsNullOrEmpty(friendlyName) ? Guid.NewGuid().ToString("N") : friendlyName),
            ("xml", element.ToString(SaveOptions.DisableFormatting)));
        command.ExecuteNonQuery();
    }
}
