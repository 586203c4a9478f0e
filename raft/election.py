"""Leader election for RaftCore: campaigns (pre-vote and real), vote
handling, vote tallying, TimeoutNow. A mixin: it reads and writes RaftCore's
fields and calls its transition helpers; RaftCore is the only subclass.

Invariants:
- a node grants at most one real vote per term (`vote` is persisted in the
  hard state before the grant is sent, by the Ready contract);
- a pre-vote changes neither term nor vote on either side;
- only voters' answers count toward a quorum; learners never campaign.
"""

from __future__ import annotations

from rafka.raft.messages import RequestVote, RequestVoteResponse, TimeoutNow
from rafka.raft.types import Role

VOTE_PENDING, VOTE_WON, VOTE_LOST = "pending", "won", "lost"


class ElectionMixin:
    # Vote decisions for the driver to log, drained by ready() into
    # Ready.events. A tuple replaced on each event (never mutated in place),
    # so this class-level default is safely shared; votes are rare.
    events: tuple = ()

    def _event(self, name: str, **fields) -> None:
        self.events = (*self.events, (name, fields))

    def _promotable(self) -> bool:
        return self.id in self.voters

    def _quorum(self) -> int:
        return len(self.voters) // 2 + 1

    def _tick_election(self) -> None:
        self.election_elapsed += 1
        if self._promotable() and self.election_elapsed >= self.randomized_election_timeout:
            self.election_elapsed = 0
            self._campaign(pre_vote=self.cfg.pre_vote, transfer=False, reason="election timeout")

    def _campaign(self, *, pre_vote: bool, transfer: bool, reason: str) -> None:
        if pre_vote:
            self._become_pre_candidate(reason)
            vote_term = self.term + 1
        else:
            self._become_candidate(reason)
            vote_term = self.term
        self._campaign_transfer = transfer
        result = self._poll(self.id, True)
        if result == VOTE_WON:
            if pre_vote:
                self._campaign(pre_vote=False, transfer=transfer, reason="pre-vote won")
            else:
                self._become_leader("election won")
            return
        last_index = self.log.last_index()
        last_term = self.log.last_term()
        for voter in sorted(self.voters):
            if voter == self.id:
                continue
            self._send(
                RequestVote(
                    src=self.id,
                    dst=voter,
                    term=vote_term,
                    last_log_index=last_index,
                    last_log_term=last_term,
                    pre_vote=pre_vote,
                    transfer=transfer,
                )
            )

    def _poll(self, voter: int, granted: bool) -> str:
        if voter in self.voters and voter not in self.votes:
            self.votes[voter] = granted
        yes = sum(1 for v in self.votes.values() if v)
        no = len(self.votes) - yes
        if yes >= self._quorum():
            return VOTE_WON
        if no >= len(self.voters) - self._quorum() + 1:
            return VOTE_LOST
        return VOTE_PENDING

    def _handle_request_vote(self, msg: RequestVote) -> None:
        can_vote = (
            self.vote == msg.src
            or (self.vote is None and self.leader_id is None)
            or (msg.pre_vote and msg.term > self.term)
        )
        up_to_date = self.log.is_up_to_date(msg.last_log_index, msg.last_log_term)
        if can_vote and up_to_date:
            self._send(
                RequestVoteResponse(src=self.id, dst=msg.src, term=msg.term, granted=True, pre_vote=msg.pre_vote)
            )
            if not msg.pre_vote:
                self.election_elapsed = 0
                self.vote = msg.src
            self._vote_event("vote_granted", msg, "candidate's log is at least as up to date as ours")
        else:
            self._send(
                RequestVoteResponse(src=self.id, dst=msg.src, term=self.term, granted=False, pre_vote=msg.pre_vote)
            )
            if not can_vote:
                if self.vote is not None and self.vote != msg.src:
                    reason = f"already voted for {self.vote} in term {self.term}"
                else:
                    reason = f"leader {self.leader_id} is known in term {self.term}"
            else:
                reason = (f"candidate's log (last term {msg.last_log_term}, index {msg.last_log_index}) "
                          f"is behind ours (last term {self.log.last_term()}, index {self.log.last_index()})")
            self._vote_event("vote_rejected", msg, reason)

    def _vote_event(self, name: str, msg: RequestVote, reason: str) -> None:
        self._event(name, candidate=msg.src, term=msg.term, pre_vote=msg.pre_vote,
                    transfer=msg.transfer, reason=reason)

    def _handle_vote_response(self, msg: RequestVoteResponse) -> None:
        pre = self.role == Role.PRE_CANDIDATE
        if msg.pre_vote != pre:
            return
        if pre and msg.granted and msg.term != self.term + 1:
            return  # answer to an older pre-vote round
        result = self._poll(msg.src, msg.granted)
        if result == VOTE_WON:
            if pre:
                self._campaign(pre_vote=False, transfer=self._campaign_transfer, reason="pre-vote won")
            else:
                self._become_leader("election won")
        elif result == VOTE_LOST:
            self._become_follower(self.term, None, "election lost")

    def _handle_timeout_now(self, msg: TimeoutNow) -> None:
        if self._promotable():
            self._campaign(pre_vote=False, transfer=True, reason=f"leadership transfer from {msg.src}")
