//! The change operations: one type per kind of local change. Each kind's local effect,
//! its undo (the server refused it), its redo (the user retries) and its row form are
//! written side by side; how it travels to the server is in `replay`. Adding a kind
//! means one type here, its step in `replay`, and its name in `model::ChangeKind`,
//! which front ends see.

use rusqlite::Transaction;

use crate::error::{Error, ErrorKind, Result};
use crate::mail::mailbox_name::Naming;
use crate::mail::{FlagSet, ParsedMessage};
pub use crate::model::ChangeKind;
use crate::model::FolderRole;
use crate::queue::plan;
use crate::store::changes::{self, ChangeRow};
use crate::store::local::{self, Position};
use crate::store::Store;

/// A message where this device last knew it on the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageAt {
    pub id: i64,
    pub message_id_header: String,
    /// The folder's server name.
    pub folder: String,
    pub uidvalidity: u32,
    /// 0 while an earlier move of the same message has not reached the server.
    pub uid: u32,
}

impl MessageAt {
    fn from_position(id: i64, pos: &Position) -> Self {
        Self {
            id,
            message_id_header: pos.message_id_header.clone(),
            folder: pos.folder.clone(),
            uidvalidity: pos.uidvalidity,
            uid: pos.uid,
        }
    }

    fn from_row(row: &ChangeRow) -> Result<Self> {
        Ok(Self {
            id: row
                .message_id
                .ok_or_else(|| corrupt(row, "has no message"))?,
            message_id_header: row.message_id_header.clone(),
            folder: row.source_folder.clone(),
            uidvalidity: row.source_uidvalidity,
            uid: row.source_uid,
        })
    }

    fn row(&self, kind: ChangeKind) -> ChangeRow {
        ChangeRow {
            kind: kind.as_str().to_owned(),
            message_id: Some(self.id),
            message_id_header: self.message_id_header.clone(),
            source_folder: self.folder.clone(),
            source_uidvalidity: self.uidvalidity,
            source_uid: self.uid,
            ..ChangeRow::default()
        }
    }
}

fn corrupt(row: &ChangeRow, what: &str) -> Error {
    Error::new(
        ErrorKind::Storage,
        format!("queued change {} ({}) {what}", row.id, row.kind),
    )
}

// ---- flags -------------------------------------------------------------------------

/// Flags set or cleared on one message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetFlags {
    pub message: MessageAt,
    /// Only the flags this change really flips (so undoing it restores the old state).
    pub add: FlagSet,
    pub remove: FlagSet,
}

impl SetFlags {
    /// Changes the flags here; `None` if nothing would change.
    pub fn apply(
        tx: &Transaction<'_>,
        id: i64,
        add: FlagSet,
        remove: FlagSet,
    ) -> Result<Option<(i64, Self)>> {
        let pos = local::position(tx, id)?;
        let Some((add, remove)) = plan::effective(pos.flags, add, remove) else {
            return Ok(None);
        };
        local::set_flags(tx, id, (pos.flags | add) - remove)?;
        let message = MessageAt::from_position(id, &pos);
        Ok(Some((
            pos.account_id,
            Self {
                message,
                add,
                remove,
            },
        )))
    }

    fn revert(&self, tx: &Transaction<'_>) -> Result<()> {
        if let Ok(pos) = local::position(tx, self.message.id) {
            local::set_flags(tx, self.message.id, (pos.flags - self.add) | self.remove)?;
        }
        Ok(())
    }

    fn reapply(&self, tx: &Transaction<'_>) -> Result<()> {
        let pos = local::position(tx, self.message.id)?;
        local::set_flags(tx, self.message.id, (pos.flags | self.add) - self.remove)
    }

    fn describe(&self, _: &Naming) -> String {
        let names = |set: FlagSet| {
            set.imap_names()
                .iter()
                .map(|n| n.trim_start_matches(['\\', '$']).to_ascii_lowercase())
                .collect::<Vec<_>>()
        };
        let mut parts: Vec<String> = names(self.add)
            .into_iter()
            .map(|n| format!("+{n}"))
            .collect();
        parts.extend(names(self.remove).into_iter().map(|n| format!("-{n}")));
        format!("message {}: {}", self.message.id, parts.join(" "))
    }

    fn row(&self) -> ChangeRow {
        ChangeRow {
            add_flags: self.add.bits(),
            remove_flags: self.remove.bits(),
            holds_flags: true,
            ..self.message.row(ChangeKind::Flags)
        }
    }

    fn from_row(row: &ChangeRow) -> Result<Self> {
        Ok(Self {
            message: MessageAt::from_row(row)?,
            add: FlagSet::from_bits_truncate(row.add_flags),
            remove: FlagSet::from_bits_truncate(row.remove_flags),
        })
    }
}

// ---- move --------------------------------------------------------------------------

/// A message moved to another folder of its account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MoveMessage {
    pub message: MessageAt,
    /// The target folder's server name.
    pub to: String,
}

impl MoveMessage {
    /// Moves the message here at once; `None` if it is already there.
    pub fn apply(tx: &Transaction<'_>, id: i64, folder_id: i64) -> Result<Option<(i64, Self)>> {
        let (target_account, to) = local::folder_account_and_name(tx, folder_id)?;
        if !local::folder_selectable(tx, folder_id)? {
            return Err(Error::invalid(format!(
                "'{}' holds only folders, not messages; choose one of its folders",
                local::naming(tx, target_account)?.display(&to)
            )));
        }
        let pos = local::position(tx, id)?;
        if pos.account_id != target_account {
            return Err(Error::invalid(format!(
                "message {id} belongs to another account than the target folder"
            )));
        }
        if pos.folder_id == folder_id {
            return Ok(None);
        }
        local::relocate(tx, pos.location_id, folder_id)?;
        let message = MessageAt::from_position(id, &pos);
        Ok(Some((pos.account_id, Self { message, to })))
    }

    fn revert(&self, tx: &Transaction<'_>, account_id: i64) -> Result<()> {
        if let Some(folder_id) = local::folder_id_by_remote(tx, account_id, &self.message.folder)? {
            let uid = (self.message.uid != 0).then_some(self.message.uid);
            local::restore_location(
                tx,
                self.message.id,
                folder_id,
                self.message.uidvalidity,
                uid,
            )?;
        }
        Ok(())
    }

    /// Moves it again from wherever it is now; the change then starts from there.
    fn reapply(&self, tx: &Transaction<'_>, change_id: i64, account_id: i64) -> Result<()> {
        let folder_id = local::folder_id_by_remote(tx, account_id, &self.to)?.ok_or_else(|| {
            let naming = local::naming(tx, account_id).unwrap_or_default();
            Error::not_found(format!("folder '{}'", naming.display(&self.to)))
        })?;
        let pos = local::position(tx, self.message.id)?;
        changes::set_source(tx, change_id, &pos.folder, pos.uidvalidity, pos.uid)?;
        local::relocate(tx, pos.location_id, folder_id)
    }

    fn describe(&self, naming: &Naming) -> String {
        format!(
            "message {} to {}",
            self.message.id,
            naming.display(&self.to)
        )
    }

    fn row(&self) -> ChangeRow {
        ChangeRow {
            target: self.to.clone(),
            ..self.message.row(ChangeKind::Move)
        }
    }

    fn from_row(row: &ChangeRow) -> Result<Self> {
        Ok(Self {
            message: MessageAt::from_row(row)?,
            to: row.target.clone(),
        })
    }
}

// ---- expunge -----------------------------------------------------------------------

/// A message removed for good.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expunge {
    pub message: MessageAt,
}

impl Expunge {
    /// Removes the message here.
    pub fn apply(tx: &Transaction<'_>, id: i64) -> Result<(i64, Self)> {
        let pos = local::position(tx, id)?;
        local::delete_locations(tx, id)?;
        let message = MessageAt::from_position(id, &pos);
        Ok((pos.account_id, Self { message }))
    }

    /// The message is gone here but still on the server: the next sync brings it back
    /// (its UID is no longer protected once the change has failed).
    fn revert(&self, tx: &Transaction<'_>, account_id: i64) -> Result<()> {
        if let Some(folder_id) = local::folder_id_by_remote(tx, account_id, &self.message.folder)? {
            local::mark_folder_incomplete(tx, folder_id)?;
        }
        Ok(())
    }

    fn reapply(&self, tx: &Transaction<'_>) -> Result<()> {
        local::delete_locations(tx, self.message.id)
    }

    fn describe(&self, naming: &Naming) -> String {
        format!(
            "message {} from {}",
            self.message.id,
            naming.display(&self.message.folder)
        )
    }

    fn row(&self) -> ChangeRow {
        self.message.row(ChangeKind::Expunge)
    }

    fn from_row(row: &ChangeRow) -> Result<Self> {
        Ok(Self {
            message: MessageAt::from_row(row)?,
        })
    }
}

// ---- folders -----------------------------------------------------------------------

/// A folder made here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreateFolder {
    /// Its server name.
    pub name: String,
}

impl CreateFolder {
    /// Creates the folder here (`name` as people write it, `Work/2026`); returns it and
    /// its local id.
    pub fn apply(tx: &Transaction<'_>, account_id: i64, name: &str) -> Result<(Self, i64)> {
        let remote = local::naming(tx, account_id)?.remote(name)?;
        if local::folder_id_by_remote(tx, account_id, &remote)?.is_some() {
            return Err(Error::new(
                ErrorKind::AlreadyExists,
                format!("folder '{name}' already exists"),
            ));
        }
        let folder_id = local::insert_folder(tx, account_id, &remote)?;
        Ok((Self { name: remote }, folder_id))
    }

    fn revert(&self, tx: &Transaction<'_>, account_id: i64) -> Result<()> {
        local::delete_folder_by_remote(tx, account_id, &self.name)
    }

    fn reapply(&self, tx: &Transaction<'_>, account_id: i64) -> Result<()> {
        local::restore_folder(tx, account_id, &self.name)
    }

    fn describe(&self, naming: &Naming) -> String {
        naming.display(&self.name)
    }

    fn row(&self) -> ChangeRow {
        ChangeRow {
            kind: ChangeKind::CreateFolder.as_str().to_owned(),
            target: self.name.clone(),
            folder_appears: self.name.clone(),
            ..ChangeRow::default()
        }
    }

    fn from_row(row: &ChangeRow) -> Self {
        Self {
            name: row.target.clone(),
        }
    }
}

/// A folder (and its subfolders) renamed here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenameFolder {
    /// Server names before and after.
    pub from: String,
    pub to: String,
}

impl RenameFolder {
    /// Renames the folder with server name `from` to `new` (as people write it).
    pub fn apply(tx: &Transaction<'_>, account_id: i64, from: &str, new: &str) -> Result<Self> {
        let naming = local::naming(tx, account_id)?;
        let (from, to) = (from.to_owned(), naming.remote(new)?);
        let (folder_id, role, delimiter) = local::folder_by_remote(tx, account_id, &from)?
            .ok_or_else(|| Error::not_found(format!("folder '{}'", naming.display(&from))))?;
        if role == Some(FolderRole::Inbox) {
            return Err(Error::invalid("the Inbox cannot be renamed"));
        }
        if local::folder_id_by_remote(tx, account_id, &to)?.is_some() {
            return Err(Error::new(
                ErrorKind::AlreadyExists,
                format!("folder '{new}' already exists"),
            ));
        }
        local::rename_folder_tree(tx, account_id, folder_id, &from, &to, &delimiter)?;
        Ok(Self { from, to })
    }

    fn revert(&self, tx: &Transaction<'_>, account_id: i64) -> Result<()> {
        if let Some((folder_id, _, delimiter)) = local::folder_by_remote(tx, account_id, &self.to)?
        {
            local::rename_folder_tree(tx, account_id, folder_id, &self.to, &self.from, &delimiter)?;
        }
        Ok(())
    }

    fn reapply(&self, tx: &Transaction<'_>, account_id: i64) -> Result<()> {
        let (folder_id, _, delimiter) = local::folder_by_remote(tx, account_id, &self.from)?
            .ok_or_else(|| {
                let naming = local::naming(tx, account_id).unwrap_or_default();
                Error::not_found(format!("folder '{}'", naming.display(&self.from)))
            })?;
        local::rename_folder_tree(tx, account_id, folder_id, &self.from, &self.to, &delimiter)
    }

    fn describe(&self, naming: &Naming) -> String {
        format!(
            "{} to {}",
            naming.display(&self.from),
            naming.display(&self.to)
        )
    }

    fn row(&self) -> ChangeRow {
        ChangeRow {
            kind: ChangeKind::RenameFolder.as_str().to_owned(),
            source_folder: self.from.clone(),
            target: self.to.clone(),
            folder_appears: self.to.clone(),
            folder_disappears: self.from.clone(),
            ..ChangeRow::default()
        }
    }

    fn from_row(row: &ChangeRow) -> Self {
        Self {
            from: row.source_folder.clone(),
            to: row.target.clone(),
        }
    }
}

/// A folder and its messages deleted here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeleteFolder {
    pub name: String,
}

impl DeleteFolder {
    /// Deletes the folder with server name `remote`.
    pub fn apply(tx: &Transaction<'_>, account_id: i64, remote: &str) -> Result<Self> {
        let remote = remote.to_owned();
        let (folder_id, role, _) = local::folder_by_remote(tx, account_id, &remote)?
            .ok_or_else(|| Error::not_found(format!("folder '{remote}'")))?;
        if role == Some(FolderRole::Inbox) {
            return Err(Error::invalid("the Inbox cannot be deleted"));
        }
        local::delete_folder(tx, folder_id)?;
        Ok(Self { name: remote })
    }

    fn revert(&self, tx: &Transaction<'_>, account_id: i64) -> Result<()> {
        local::restore_folder(tx, account_id, &self.name)
    }

    fn reapply(&self, tx: &Transaction<'_>, account_id: i64) -> Result<()> {
        if let Some(folder_id) = local::folder_id_by_remote(tx, account_id, &self.name)? {
            local::delete_folder(tx, folder_id)?;
        }
        Ok(())
    }

    fn describe(&self, naming: &Naming) -> String {
        naming.display(&self.name)
    }

    fn row(&self) -> ChangeRow {
        ChangeRow {
            kind: ChangeKind::DeleteFolder.as_str().to_owned(),
            target: self.name.clone(),
            folder_disappears: self.name.clone(),
            ..ChangeRow::default()
        }
    }

    fn from_row(row: &ChangeRow) -> Self {
        Self {
            name: row.target.clone(),
        }
    }
}

// ---- append ------------------------------------------------------------------------

/// A message written here (a draft, the sender's copy) uploaded into a folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Append {
    pub message: i64,
    pub message_id_header: String,
    /// The folder's server name.
    pub folder: String,
    pub flags: FlagSet,
}

impl Append {
    /// Saves the message here, durably (until the upload it is the only copy).
    pub fn apply(
        store: &Store,
        tx: &Transaction<'_>,
        folder_id: i64,
        message: &ParsedMessage,
        flags: FlagSet,
    ) -> Result<(i64, Self)> {
        let (account_id, folder) = local::folder_account_and_name(tx, folder_id)?;
        let id = store.insert_local_message(tx, folder_id, message, flags)?;
        let append = Self {
            message: id,
            message_id_header: message.headers.message_id.clone(),
            folder,
            flags,
        };
        Ok((account_id, append))
    }

    fn describe(&self, naming: &Naming) -> String {
        format!(
            "message {} to {}",
            self.message,
            naming.display(&self.folder)
        )
    }

    fn row(&self) -> ChangeRow {
        ChangeRow {
            kind: ChangeKind::Append.as_str().to_owned(),
            message_id: Some(self.message),
            message_id_header: self.message_id_header.clone(),
            target: self.folder.clone(),
            add_flags: self.flags.bits(),
            ..ChangeRow::default()
        }
    }

    fn from_row(row: &ChangeRow) -> Result<Self> {
        Ok(Self {
            message: row
                .message_id
                .ok_or_else(|| corrupt(row, "has no message"))?,
            message_id_header: row.message_id_header.clone(),
            folder: row.target.clone(),
            flags: FlagSet::from_bits_truncate(row.add_flags),
        })
    }
}

// ---- the operations together -------------------------------------------------------

/// Calls the same method on whichever kind `$op` holds.
macro_rules! each_kind {
    ($op:expr, $inner:ident => $call:expr) => {
        match $op {
            Operation::SetFlags($inner) => $call,
            Operation::Move($inner) => $call,
            Operation::Expunge($inner) => $call,
            Operation::CreateFolder($inner) => $call,
            Operation::RenameFolder($inner) => $call,
            Operation::DeleteFolder($inner) => $call,
            Operation::Append($inner) => $call,
        }
    };
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Operation {
    SetFlags(SetFlags),
    Move(MoveMessage),
    Expunge(Expunge),
    CreateFolder(CreateFolder),
    RenameFolder(RenameFolder),
    DeleteFolder(DeleteFolder),
    Append(Append),
}

impl Operation {
    pub fn kind(&self) -> ChangeKind {
        match self {
            Self::SetFlags(_) => ChangeKind::Flags,
            Self::Move(_) => ChangeKind::Move,
            Self::Expunge(_) => ChangeKind::Expunge,
            Self::CreateFolder(_) => ChangeKind::CreateFolder,
            Self::RenameFolder(_) => ChangeKind::RenameFolder,
            Self::DeleteFolder(_) => ChangeKind::DeleteFolder,
            Self::Append(_) => ChangeKind::Append,
        }
    }

    /// The local message the change is about, if any.
    pub fn message(&self) -> Option<i64> {
        match self {
            Self::SetFlags(SetFlags { message, .. })
            | Self::Move(MoveMessage { message, .. })
            | Self::Expunge(Expunge { message }) => Some(message.id),
            Self::Append(append) => Some(append.message),
            Self::CreateFolder(_) | Self::RenameFolder(_) | Self::DeleteFolder(_) => None,
        }
    }

    /// Whether replaying it moves the message away from where it is (so a position
    /// learnt for an earlier change is not where the message stays).
    pub fn relocates_message(&self) -> bool {
        matches!(self, Self::Move(_) | Self::Expunge(_))
    }

    /// For people: "message 12: +seen", "message 12 to Receipts".
    pub fn describe(&self, naming: &Naming) -> String {
        each_kind!(self, op => op.describe(naming))
    }

    /// The earlier pending change this one must wait for: the message's last change, or
    /// the change that brings the folder it needs into being.
    pub fn depends_on(&self, tx: &Transaction<'_>, account_id: i64) -> Result<Option<i64>> {
        let message = match self.message() {
            Some(id) => changes::last_pending_for_message(tx, id)?,
            None => None,
        };
        let folder = match self {
            Self::Move(op) => changes::pending_appearance(tx, account_id, &op.to)?,
            Self::RenameFolder(op) => changes::pending_appearance(tx, account_id, &op.from)?,
            Self::DeleteFolder(op) => changes::pending_appearance(tx, account_id, &op.name)?,
            _ => None,
        };
        Ok(message.into_iter().chain(folder).max())
    }

    /// Undoes the local effect: the server refused the change for good.
    pub fn revert(&self, tx: &Transaction<'_>, account_id: i64) -> Result<()> {
        match self {
            Self::SetFlags(op) => op.revert(tx),
            Self::Move(op) => op.revert(tx, account_id),
            Self::Expunge(op) => op.revert(tx, account_id),
            Self::CreateFolder(op) => op.revert(tx, account_id),
            Self::RenameFolder(op) => op.revert(tx, account_id),
            Self::DeleteFolder(op) => op.revert(tx, account_id),
            // The message stays here, local only, until a retry uploads it.
            Self::Append(_) => Ok(()),
        }
    }

    /// Applies the local effect again, for a retry of a failed change.
    pub fn reapply(&self, tx: &Transaction<'_>, change_id: i64, account_id: i64) -> Result<()> {
        match self {
            Self::SetFlags(op) => op.reapply(tx),
            Self::Move(op) => op.reapply(tx, change_id, account_id),
            Self::Expunge(op) => op.reapply(tx),
            Self::CreateFolder(op) => op.reapply(tx, account_id),
            Self::RenameFolder(op) => op.reapply(tx, account_id),
            Self::DeleteFolder(op) => op.reapply(tx, account_id),
            Self::Append(_) => Ok(()),
        }
    }

    pub(super) fn row(&self) -> ChangeRow {
        each_kind!(self, op => op.row())
    }

    pub(super) fn from_row(row: &ChangeRow) -> Result<Self> {
        let kind = ChangeKind::parse(&row.kind).ok_or_else(|| {
            corrupt(
                row,
                "is of a kind this version does not know (a newer Brevdue?)",
            )
        })?;
        Ok(match kind {
            ChangeKind::Flags => Self::SetFlags(SetFlags::from_row(row)?),
            ChangeKind::Move => Self::Move(MoveMessage::from_row(row)?),
            ChangeKind::Expunge => Self::Expunge(Expunge::from_row(row)?),
            ChangeKind::CreateFolder => Self::CreateFolder(CreateFolder::from_row(row)),
            ChangeKind::RenameFolder => Self::RenameFolder(RenameFolder::from_row(row)),
            ChangeKind::DeleteFolder => Self::DeleteFolder(DeleteFolder::from_row(row)),
            ChangeKind::Append => Self::Append(Append::from_row(row)?),
        })
    }
}
