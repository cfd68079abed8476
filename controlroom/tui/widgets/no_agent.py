"""What a host's view says instead of its data when the host answers SSH but runs no agent."""

from __future__ import annotations

from rich.text import Text

from controlroom.tui.widgets.quiet import QuietStatic

WHAT_INSTALL_DOES = (
    "a venv on the host, this controlroom as a wheel over SFTP, pip with [agent], "
    "autostart, the agent started; then this view links to it"
)


class NoAgentNotice(QuietStatic):
    """`no agent on HOST`, why, and the key that installs one (when that is possible)."""

    def show(self, host: str, reason: str, *, install_key: str | None, readonly: bool) -> None:
        """Args: install_key: the key that installs (None: no install possible here);
        readonly: a read-only session, which never installs."""
        self.show_text(render_notice(host, reason, install_key=install_key, readonly=readonly))


def render_notice(host: str, reason: str, *, install_key: str | None, readonly: bool) -> Text:
    text = Text.assemble((f"no agent on {host}", "bold"), "\n\n", (reason, "dim"), "\n\n")
    if readonly:
        text.append("read-only session: installing is refused", style="yellow")
    elif install_key is None:
        text.append("installing from here is not possible for this host", style="yellow")
    else:
        # the gap ends the key's span: rsvg (the screenshots) drops a run's leading space
        text.append_text(
            Text.assemble(
                "press ", (f"{install_key} ", "bold"), f"to install it: {WHAT_INSTALL_DOES}"
            )
        )
    return text
