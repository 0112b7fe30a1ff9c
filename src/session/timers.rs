//! Time: the keep-alive ping and the response timeout for CONNACK and PINGRESP
//! ([`Session::poll_timeout`], [`Session::handle_timeout`]).

use super::{Phase, ProtocolError, Session};
use crate::packet::Packet;

impl<const N: usize, const S: usize> Session<N, S> {
    /// The next instant at which [`handle_timeout`](Self::handle_timeout) has work to do,
    /// or `None` when no timer runs.
    pub fn poll_timeout(&self) -> Option<u64> {
        let pong = self
            .waiting_since
            .map(|t| t.saturating_add(self.response_timeout_ms));
        match self.phase {
            Phase::Disconnected => None,
            Phase::Connecting => pong,
            Phase::Connected => match (self.keep_alive_deadline(), pong) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            },
        }
    }

    /// When the next PINGREQ is due: a keep-alive interval after the last send. It keeps
    /// running while an earlier PINGREQ is unanswered, so the client is never silent for
    /// longer than Keep Alive even when the response timeout is longer ([MQTT-3.1.2-23]).
    fn keep_alive_deadline(&self) -> Option<u64> {
        (self.keep_alive_ms > 0).then(|| self.last_sent.saturating_add(self.keep_alive_ms))
    }

    /// Runs the timers at `now`.
    ///
    /// Returns a PINGREQ to send when nothing has been sent for a keep-alive interval
    /// ([MQTT-3.1.2-23]).
    ///
    /// # Errors
    /// [`ProtocolError::ConnAckTimeout`] or [`ProtocolError::PingTimeout`] when the server
    /// has not answered within the response timeout: close the connection.
    pub fn handle_timeout(&mut self, now: u64) -> Result<Option<Packet<'static>>, ProtocolError> {
        if self.phase == Phase::Disconnected {
            return Ok(None);
        }
        if self
            .waiting_since
            .is_some_and(|t| now >= t.saturating_add(self.response_timeout_ms))
        {
            return Err(if self.phase == Phase::Connecting {
                ProtocolError::ConnAckTimeout
            } else {
                ProtocolError::PingTimeout
            });
        }
        if self.phase == Phase::Connected && self.keep_alive_deadline().is_some_and(|due| now >= due) {
            return self.ping(now).map(Some);
        }
        Ok(None)
    }
}
