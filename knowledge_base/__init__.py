"""The one knowledge base (统一知识库): articles, versions, Chinese search, one answer service.

Built by the knowledge-base issue; the ticket side already records the article keys
an agent used for a direct answer (`TicketArticle`)."""
