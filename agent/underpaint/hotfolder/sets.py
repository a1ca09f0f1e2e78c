"""Consistent sets in the hot folder: a folder in in/ holding `set.json` is one recipe over many images.

    in/spring/set.json        the recipe for all (mode, params, and the mask, control_images and
                              reference_images paths), in the sidecar format
    in/spring/a.png, b.png    the targets; each may bring its NAME.mask.png and NAME.json (its own overrides)
    in/spring/refs/...        subfolders, and the files a recipe here names, are shared: never targets

Each target becomes an ordinary hot-folder job whose JobSpec carries the set id and whose recipe stack
has set.json between defaults.json and its own sidecar, so every member runs the same resolved recipe.
Results go to out/<set>/<name>/, originals to done/<set>/ or failed/<set>/ (beside NAME.error.json);
set.json and the shared files follow once every member has ended: to done/<set>/ when any member
succeeded, else to failed/<set>/. <set> is the folder's name, or `name-2`, ... when out/ has it.

Claiming journals the set id first, then renames the whole folder into processing/<set id>/ in one
step; splitting moves each target's files into a job folder of its own (processing/<job id>/),
journalled as a member from before its first file moves. A restart at any step finishes the same set:
one set id, each target one job.
"""

from __future__ import annotations

import contextlib
import logging
import os
from pathlib import Path

from .intake import RecipeFile, files_named_by
from .journal import FINAL_STATES, Journal, JournalRow
from .layout import READY_MARKER, SET_FILE, Group, Layout, classify, group_entries, is_ignored, new_id
from .outputs import fit_name, move_in, move_originals, reserve_out_dir, write_error

log = logging.getLogger(__name__)
_SHARED_STEM = "set"
"""The name set.json and the shared files are filed under (for `-2` suffixes, and set.error.json)."""


class Sets:
    """The hot folder's sets, over its layout and journal (used from the event loop thread only)."""

    def __init__(self, layout: Layout, journal: Journal) -> None:
        self.layout = layout
        self.journal = journal

    def is_set(self, group: Group) -> bool:
        return group.kind == "folder" and (self.layout.inbox / group.name / SET_FILE).is_file()

    def folder(self, set_id: str) -> Path:
        """Where a claimed set's shared files (and its targets, until split) are."""
        return self.layout.processing / set_id

    def recipe(self, set_id: str) -> RecipeFile:
        return RecipeFile(self.folder(set_id) / SET_FILE, (self.folder(set_id),))

    def destinations(self, row: JournalRow) -> tuple[Path, Path, Path]:
        """Where a job's results, its originals after success and its originals after failure go."""
        if row.set_id is None:
            return self.layout.out, self.layout.done, self.layout.failed
        leaf = self._leaf(row.set_id)
        return self.layout.out / leaf, self.layout.done / leaf, self.layout.failed / leaf

    # claiming and splitting

    def claim(self, group: Group) -> list[str]:
        """Claim the set folder `group` and split it; returns its member jobs (claimed, to be queued)."""
        set_id = new_id(group.name, "")
        self.journal.add_set(set_id, group.name)
        if not self._take_folder(set_id, group.name):
            return []
        return self.split(set_id)

    def _take_folder(self, set_id: str, name: str) -> bool:
        """Rename in/<name>/ to processing/<set id>/ (unless a crash left it done) and reserve out/<set>/."""
        if not self.folder(set_id).exists():
            try:
                os.rename(self.layout.inbox / name, self.folder(set_id))
            except OSError as exc:  # gone, or held open by its writer: the next scan sees what is there
                log.info("hot folder set %s could not be claimed yet: %s", name, exc)
                self.journal.set_split_state(set_id, "done")
                return False
        leaf = fit_name(name, "-10000").removesuffix("-10000")  # room for the suffix a clash adds
        self.journal.set_split_state(set_id, "splitting", reserve_out_dir(self.layout.out, leaf).name)
        return True

    def split(self, set_id: str) -> list[str]:
        """Make each target still in the set's folder a member job; a set with none is filed at once."""
        folder = self.folder(set_id)
        files = sorted(p.name for p in folder.iterdir() if p.is_file() and not is_ignored(p.name)
                       and p.name not in (SET_FILE, READY_MARKER))
        recipes = [folder / SET_FILE, *(folder / name for name in files if classify(name)[1] == "recipe")]
        guides = files_named_by(recipes)
        targets = [name for name in files if (folder / name).resolve() not in guides]
        members = []
        for group in group_entries(dict.fromkeys(targets, False)):
            job_id = new_id(group.name, "hf-")
            self.journal.add(job_id, group.name, list(group.members), set_id)
            (self.layout.processing / job_id).mkdir()
            move_in(list(group.members), folder, self.layout.processing / job_id, "splitting-set")
            self.journal.set_state(job_id, "claimed")
            members.append(job_id)
        self.journal.set_split_state(set_id, "split")
        self.end_if_complete(set_id)
        return members

    # ending

    def end_if_complete(self, set_id: str) -> None:
        """Once every member of a split set is done or failed, file set.json and the shared files."""
        row = self.journal.get_set(set_id)
        members = self.journal.members(set_id)
        if row is None or row.state not in ("split", "ending") or any(m.state not in FINAL_STATES for m in members):
            return
        self.journal.set_split_state(set_id, "ending")
        leaf = self._leaf(set_id)
        folder = self.folder(set_id)
        try:
            if folder.exists():
                leftovers = sorted(p.name for p in folder.iterdir())
                succeeded = any(m.state == "done" for m in members)
                failed = self.layout.failed / leaf
                stem = move_originals(folder, self.layout.done / leaf if succeeded else failed, _SHARED_STEM)
                if not members:
                    write_error(failed, stem, "missing_image", f"The set {row.name} holds no image: put the images "
                                f"beside its {SET_FILE} (shared files may go in a subfolder).", set_id, leftovers)
        except OSError:  # done/ or failed/ refuses them now: the set stays `ending`, and the next start files it
            log.exception("the shared files of hot folder set %s could not be filed", set_id)
            return
        with contextlib.suppress(OSError):
            (self.layout.out / leaf).rmdir()  # only when no member left results there
        self.journal.set_split_state(set_id, "done")

    # restart

    def recover(self) -> tuple[set[str], list[str]]:
        """Finish what a dead agent left of each set: (the set ids whose folders processing/ holds,
        the member jobs split off now, to be queued). Run after the member jobs' own recovery."""
        folders, members = set(), []
        for row in self.journal.unfinished_sets():
            folders.add(row.set_id)
            if row.state == "claiming" and not self._take_folder(row.set_id, row.name):
                continue
            if row.state in ("claiming", "splitting"):
                members += self.split(row.set_id)
            else:
                self.end_if_complete(row.set_id)
        return folders, members

    def _leaf(self, set_id: str) -> str:
        row = self.journal.get_set(set_id)
        assert row is not None and row.out_name is not None, f"set {set_id} has no folder name yet"
        return row.out_name
