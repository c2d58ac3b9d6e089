# language: da
Egenskab: Tilbuddet om en social navigatør afhænger ikke af samtykke
  Projektbeskrivelsen: Den praktiserende læges tilbud om at benytte lægeklinikkens navigatør
  vil ikke være betinget af, at patienten samtykker til videregivelse af journaloplysninger,
  fordi et samtykke skal være frivilligt. Tjenesten må aldrig standse et forløb, fordi et
  samtykke mangler, er afslået eller er tilbagekaldt. Hvert scenarie prøver alle navigatørens
  handlinger i forløbet i den rigtige tjeneste: registrere en henvisning, åbne borgerens
  forløb og se borgerens opgaver på arbejdslisten.

  Regel: Forløbet fortsætter, uanset hvad borgeren har svaret

    Abstrakt Scenario: Forløbet med et journalsamtykke, der er <situation>
      Givet en borger på 45 år, der er henvist til en social navigatør den 1. april 2026
      Og borgerens journalsamtykke er <situation>
      Når navigatøren ser på forløbet den 1. juni 2026
      Så kan borgeren få og beholde tilbuddet om en social navigatør

      Eksempler:
        | situation    |
        | ikke givet   |
        | afslået      |
        | givet        |
        | tilbagekaldt |
        | udløbet      |
        | ugyldiggjort |

    Scenarie: Borgeren siger nej til begge samtykker
      Givet en borger på 45 år, der er henvist til en social navigatør den 1. april 2026
      Og borgerens journalsamtykke er afslået
      Og borgerens trivselssamtykke er afslået
      Når navigatøren ser på forløbet den 1. juni 2026
      Så kan borgeren få og beholde tilbuddet om en social navigatør

    Scenarie: En borger under 18 år får tilbuddet, men indgår ikke i dataindsamlingen
      Givet en borger på 16 år, der er henvist til en social navigatør den 1. april 2026
      Når navigatøren ser på forløbet den 1. juni 2026
      Så kan borgeren få og beholde tilbuddet om en social navigatør
      Men borgeren indgår ikke i dataindsamlingen
